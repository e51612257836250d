"""REST API v1 for explanations, for other tools: the same explanation the agents' page shows, as
JSON, and its waterfall plot. Separate from support.apis.lists (the lists' API).

    POST /api/v1/support/explanations                      {model, entity_id | features}
         200 with the explanation when it is done (cached, or computed at once: tree models),
         202 with its state when it went to a job (model-agnostic path); poll `links.self`.
    GET  /api/v1/support/explanations/<id>
    GET  /api/v1/support/explanations/<id>/waterfall.png
    GET|PUT /api/v1/models/<name>/versions/<n>/explainer-background   (the version's background sample)

Roles: support.explain_decisions (agents, reviewers, pipelines) asks and reads; the background is
uploaded by whoever registers models (pipelines, reviewers).
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from mlops.api import DetailMixin, KeelAPIView
from mlops.errors import NotFound
from mlops.png import png_response
from mlops.roles import EXPLAIN_DECISIONS, LOG_TRAINING
from registry import selectors as registry_selectors

from .. import selectors, services
from .. import serializers as s
from ..models import ExplainerBackground


class ExplanationListApi(KeelAPIView):
    required_permissions = {"POST": EXPLAIN_DECISIONS}

    @extend_schema(request=s.ExplanationIn, responses={200: s.ExplanationOut, 202: s.ExplanationOut})
    def post(self, request):
        data = self.validated(s.ExplanationIn)
        try:
            model = registry_selectors.model_get(data["model"])
        except NotFound as exc:
            raise NotFound(exc.message, field="model") from None
        explanation = services.explanation_request(
            actor=request.user, model=model, entity_id=data["entity_id"], features=data["features"]
        )
        body = s.ExplanationOut(selectors.explanation_get(explanation.pk)).data
        if explanation.in_progress:
            return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["links"]["self"]})
        return Response(body)


class ExplanationDetailApi(DetailMixin, KeelAPIView):
    required_permissions = {"GET": EXPLAIN_DECISIONS}
    serializer_class = s.ExplanationOut
    get_object = staticmethod(selectors.explanation_get)


class ExplanationWaterfallApi(KeelAPIView):
    required_permissions = {"GET": EXPLAIN_DECISIONS}

    @extend_schema(responses={(200, "image/png"): OpenApiResponse(description="The SHAP waterfall plot.")})
    def get(self, request, pk):
        return png_response(selectors.waterfall_png(selectors.explanation_get(pk)))


class ExplainerBackgroundApi(KeelAPIView):
    required_permissions = {"GET": EXPLAIN_DECISIONS, "PUT": LOG_TRAINING}

    def _version(self, name, version):
        return registry_selectors.version_get(registry_selectors.model_get(name), version)

    @extend_schema(responses=s.ExplainerBackgroundOut)
    def get(self, request, name, version):
        found = (
            ExplainerBackground.objects.select_related("version__model", "created_by")
            .filter(version=self._version(name, version))
            .first()
        )
        if found is None:
            raise NotFound(f"v{version} of '{name}' has no explainer background yet.")
        return Response(s.ExplainerBackgroundOut(found).data)

    @extend_schema(request=s.ExplainerBackgroundIn, responses=s.ExplainerBackgroundOut)
    def put(self, request, name, version):
        found = self._version(name, version)
        # A bare list of records is accepted too.
        data = self.validated(
            s.ExplainerBackgroundIn, data={"records": request.data} if isinstance(request.data, list) else None
        )
        background = services.explainer_background_upload(
            version=found, actor=request.user, records=data["records"], source=data["source"]
        )
        return Response(s.ExplainerBackgroundOut(background).data)
