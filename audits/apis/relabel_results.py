"""REST API v1 of relabelling's results, for pipelines and leads: the stored live estimate with its
intervals and the error patterns, and the corrected labels to retrain on (CSV, Parquet, JSON lines)."""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from mlops.api import KeelAPIView
from mlops.roles import VIEW_RELABEL_RESULTS

from .. import selectors
from .. import serializers as s

__all__ = ["CampaignEstimateApi", "CampaignLabelsApi"]


def estimate_body(campaign) -> dict:
    patterns = selectors.campaign_error_patterns(campaign)
    return {
        "campaign": campaign.pk,
        "state": campaign.state,
        "estimates": [selectors.estimate_as_dict(e) for e in selectors.campaign_latest_estimates(campaign)],
        "error_patterns": patterns.to_dict(orient="records"),
    }


class CampaignEstimateApi(KeelAPIView):
    """The campaign's live error estimate as last stored (recomputed in the background shortly after
    answers and adjudications, and when the campaign closes): accuracy, error rate and per-class
    precision and recall with 95% intervals, for the whole campaign and per version when it covers
    several; with the feature values over-represented among errors (Fisher exact, BH-corrected)."""

    required_permissions = {"GET": VIEW_RELABEL_RESULTS}

    @extend_schema(responses={200: s.CampaignEstimateOut})
    def get(self, request, pk):
        campaign = selectors.campaign_get(pk, request.user)
        return Response(s.CampaignEstimateOut(estimate_body(campaign)).data)


class CampaignLabelsApi(KeelAPIView):
    """The campaign's corrected labels, one row per settled item, with provenance: the prediction
    (id, request_id, version, when, label, score), the corrected label and where it comes from
    (agreed or adjudicated), the labellers and their answers, the agreement share, who adjudicated,
    and `relabelled` where the corrected label differs from the prediction. Erased people's rows are
    never listed. Streamed."""

    required_permissions = {"GET": VIEW_RELABEL_RESULTS}

    def perform_content_negotiation(self, request, force=False):
        # `format` picks the file's format here, not one of DRF's renderers.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(s.EXPORT_FORMATS), default="csv")],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "application/vnd.apache.parquet"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.BINARY),
        },
    )
    def get(self, request, pk):
        query = self.validated(s.LabelsQueryIn, data=request.query_params.dict())
        campaign = selectors.campaign_get(pk, request.user)
        blocks, content_type, name = selectors.campaign_labels_file(campaign, query["format"])
        response = StreamingHttpResponse(blocks, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
