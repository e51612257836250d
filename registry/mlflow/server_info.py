"""`GET /api/3.0/mlflow/server-info`: what the client asks before anything else, to learn how the
server is set up. MLflow answers it without a login, and so does Keel: it names no secret, tenant or
address, only which optional features are off."""

from rest_framework.permissions import AllowAny

from .base import MlflowView

__all__ = ["ServerInfo"]


class ServerInfo(MlflowView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request):
        return self.ok(
            {
                "store_type": None,
                "workspaces_enabled": False,
                "trace_archival_enabled": False,
                "multipart_uploads_enabled": False,
                "multipart_downloads_enabled": False,
                "presigned_upload_run_id_supported": False,
                "presigned_upload_model_id_supported": False,
                "features_enabled": {"gateway": False},
            }
        )
