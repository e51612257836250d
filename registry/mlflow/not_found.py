"""A path under MLflow's prefixes that Keel does not serve: 404 ENDPOINT_NOT_FOUND in MLflow's shape,
whoever asks, as MLflow's server answers. The client reads that code (and only that one) as "try the
next path it knows for this call"; Keel's plain 404 would reach it as an INTERNAL_ERROR."""

from rest_framework.permissions import AllowAny

from .base import MlflowView
from .errors import ENDPOINT_NOT_FOUND, MlflowError

__all__ = ["EndpointNotFound"]


class EndpointNotFound(MlflowView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def refuse(self, request, *args, **kwargs):
        raise MlflowError(ENDPOINT_NOT_FOUND, f"Keel does not serve {request.method} {request.path}.")

    get = post = put = patch = delete = refuse
