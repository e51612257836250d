"""Who is calling: the credentials the MLflow client sends, mapped to Keel users.

`MLFLOW_TRACKING_TOKEN` arrives as `Authorization: Bearer <token>`: a Keel API token (the same DRF
token API v1 takes as `Token <token>`, which is accepted too). `MLFLOW_TRACKING_USERNAME/PASSWORD`
arrive as HTTP Basic, checked against Keel's users (and django-axes' lock on password guessing).
A browser's session still works, with its CSRF check; token and Basic calls carry no cookie and need
none."""

from rest_framework.authentication import BasicAuthentication, SessionAuthentication, TokenAuthentication

__all__ = ["BearerTokenAuthentication", "PasswordAuthentication", "AUTHENTICATION_CLASSES"]


class BearerTokenAuthentication(TokenAuthentication):
    """A Keel API token sent as `Bearer <key>` (what the MLflow client sends) or `Token <key>`."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme = header.split(" ", 1)[0].lower() if header else ""
        if scheme == "bearer":
            self.keyword = "Bearer"
        elif scheme == "token":
            self.keyword = "Token"
        else:
            return None
        return super().authenticate(request)

    def authenticate_header(self, request):
        return 'Bearer realm="keel"'


class PasswordAuthentication(BasicAuthentication):
    www_authenticate_realm = "keel"


AUTHENTICATION_CLASSES = [BearerTokenAuthentication, PasswordAuthentication, SessionAuthentication]
