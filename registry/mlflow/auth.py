"""Who is calling: the credentials the MLflow client sends, mapped to Keel users.

`MLFLOW_TRACKING_TOKEN` arrives as `Authorization: Bearer <token>`: a Keel API token (the same DRF
token API v1 takes as `Token <token>`, which is accepted too). `MLFLOW_TRACKING_USERNAME/PASSWORD`
arrive as HTTP Basic, checked against Keel's users (and django-axes' lock on password guessing).
A browser's session still works, with its CSRF check; token and Basic calls carry no cookie and need
none."""

from django.contrib.auth.models import Permission
from django.db.models import Q
from rest_framework.authentication import BasicAuthentication, SessionAuthentication, TokenAuthentication

__all__ = ["BearerTokenAuthentication", "PasswordAuthentication", "AUTHENTICATION_CLASSES", "with_permissions"]


def with_permissions(user):
    """Reads the user's permissions, their own and their groups', in one query instead of
    ModelBackend's two, into the per-request cache ModelBackend.get_all_permissions reads
    (`_perm_cache`): every MLflow call checks one, and a client logs hundreds of calls a run.
    Superusers and inactive users are left to ModelBackend (it answers them without a query)."""
    if user.is_active and not user.is_superuser and not hasattr(user, "_perm_cache"):
        rows = Permission.objects.filter(Q(user=user) | Q(group__user=user)).values_list(
            "content_type__app_label", "codename"
        )
        user._perm_cache = {f"{app}.{codename}" for app, codename in rows}
    return user


class _PermissionsWithUser:
    def authenticate(self, request):
        found = super().authenticate(request)
        if found is not None:
            found = (with_permissions(found[0]), found[1])
        return found


class BearerTokenAuthentication(_PermissionsWithUser, TokenAuthentication):
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


class PasswordAuthentication(_PermissionsWithUser, BasicAuthentication):
    www_authenticate_realm = "keel"


AUTHENTICATION_CLASSES = [BearerTokenAuthentication, PasswordAuthentication, SessionAuthentication]
