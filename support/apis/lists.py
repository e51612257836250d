"""REST API v1 for support lists: agents change them, serving systems poll them.

Reads need `support.read_lists` (agents, reviewers, pipelines); changes need `support.manage_lists`
(support agents only). Each view validates its input and calls one service or selector.
"""

from django.http import HttpResponse, HttpResponseNotModified
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from mlops.api import DetailMixin, KeelAPIView
from mlops.errors import ApplicationError
from mlops.etags import etag_matches
from mlops.openapi import ERROR, NO_NUL, list_schema
from mlops.roles import MANAGE_LISTS, READ_LIST_RECORDS, READ_LISTS, ActionPermission

from .. import selectors, services
from .. import serializers as s
from ..lists import cache as lists_cache
from ..lists import poll as lists_poll
from ..lists.auth import CachedGrant, CachedTokenAuthentication
from ..models import EntryKind, EntryReason, EntryState

SURFACE_NAME = lists_poll.SURFACE_NAME
# A query parameter that must hold more than spaces.
NOT_BLANK = {"type": "string", "pattern": r"\S"}


class SupportAPIView(KeelAPIView):
    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(exc, services.RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        return response


# --- serving lists --------------------------------------------------------------------------------------


class ListsReadPermission(ActionPermission):
    """ActionPermission, also for pollers authenticated from the cache (their permissions come along)."""

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, CachedGrant):
            required = view.required_permissions.get("GET" if request.method in ("HEAD", "OPTIONS") else request.method)
            return bool(required) and (request.user.is_superuser or required in request.auth.permissions)
        return super().has_permission(request, view)


def _json(body: bytes, request, gzip_body: bytes | None = None, etag: str | None = None) -> HttpResponse:
    gzipped = gzip_body is not None and lists_poll.wants_gzip(request.headers.get("Accept-Encoding"))
    response = HttpResponse(gzip_body if gzipped else body, content_type="application/json")
    for name, value in lists_poll.list_headers(etag=etag, gzipped=gzipped):
        response[name] = value
    return response


def _not_modified(etag: str) -> HttpResponseNotModified:
    response = HttpResponseNotModified()
    for name, value in lists_poll.list_headers(etag=etag, not_modified=True):
        response[name] = value
    return response


def fast_poll(request) -> HttpResponse | None:
    """A poll the cache can answer (lists_poll.poll_answer), as a Django response; None for the rest.
    Production answers these before Django (support.lists.wsgi); the view asks too, for servers
    that call Django directly."""
    if request.method != "GET":
        return None
    answer = lists_poll.poll_answer(
        authorization=request.headers.get("Authorization", ""),
        surface=request.GET.get("surface", ""),
        if_none_match=request.headers.get("If-None-Match"),
        since=request.GET.get("since"),
        accept_encoding=request.headers.get("Accept-Encoding"),
        now=timezone.now(),
    )
    if answer is None:
        return None
    response = (
        HttpResponseNotModified()
        if answer.status == 304
        else HttpResponse(answer.body, content_type="application/json")
    )
    for name, value in answer.headers:
        response[name] = value
    return response


class ServingListsApi(SupportAPIView):
    """What a surface must apply after the model: the active blacklist and boosts.

    IDs come in groups that share a type and an expiry (boosts also a weight):
    `{"blacklist": [{"entity_type", "expires_at", "entity_ids": [...]}], "boosts": [{"entity_type",
    "weight", "expires_at", "entity_ids": [...]}], "cursor", "next_expiry", ...}`.
    Cheap to poll: send the ETag back in If-None-Match for a 304, or `since=<cursor>` for only what
    changed (`added` in the same groups, `removed`: lifted or expired IDs by type). Entries stop being
    served at their expiry without anyone acting.
    """

    authentication_classes = [CachedTokenAuthentication, SessionAuthentication]
    permission_classes = [ListsReadPermission]
    required_permissions = {"GET": READ_LISTS}

    def dispatch(self, request, *args, **kwargs):
        return fast_poll(request) or super().dispatch(request, *args, **kwargs)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "surface",
                {"type": "string", "pattern": f"^{SURFACE_NAME.pattern}$"},
                required=True,
                description="A surface's name.",
            ),
            OpenApiParameter(
                "since",
                {"type": "string", "pattern": "^[0-9]{1,18}-[0-9]{1,18}$"},
                description="The cursor of an earlier response: answer with only the changes since.",
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, 304: None, 410: ERROR},
    )
    def get(self, request):
        surface = request.query_params.get("surface", "").strip()
        if not SURFACE_NAME.fullmatch(surface):
            raise ApplicationError("Say which surface: ?surface=<name>.", field="surface")
        now = timezone.now()
        since = request.query_params.get("since")
        if since is not None:
            return _json(lists_cache.changes(surface, since, now), request)
        meta = lists_cache.list_meta(surface, now)
        if etag_matches(request.headers.get("If-None-Match"), meta["etag"]):
            return _not_modified(meta["etag"])
        bodies = lists_cache.list_bodies(meta)
        found = lists_cache.CachedList(meta["etag"], bodies) if bodies else lists_cache.full_list(surface, now)
        return _json(found.body, request, found.gzip_body, found.etag)


class SurfaceListApi(SupportAPIView):
    required_permissions = {"GET": READ_LISTS}

    @extend_schema(responses=s.SurfaceOut(many=True))
    def get(self, request):
        return Response(s.SurfaceOut(selectors.surfaces(), many=True).data)


# --- entries ----------------------------------------------------------------------------------------------


class EntryFilterIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=EntryKind.choices, required=False)
    entity_type = serializers.CharField(required=False)
    entity_id = serializers.CharField(required=False)
    state = serializers.ChoiceField(choices=EntryState.choices, required=False)
    reason = serializers.ChoiceField(choices=EntryReason.choices, required=False)
    surface = serializers.SlugField(required=False)


class EntryListApi(SupportAPIView):
    required_permissions = {"GET": READ_LIST_RECORDS}

    @list_schema(s.EntryOut, parameters=[EntryFilterIn])
    def get(self, request):
        # A plain dict: DRF reads a blank form value of an optional field as left out.
        filters = dict(self.validated(EntryFilterIn, data=request.query_params.dict()))
        if "surface" in filters:
            filters["surface"] = selectors.surface_get(filters["surface"])
        return self.list_response(request, selectors.entries(**filters), s.EntryOut)


class EntryDetailApi(DetailMixin, SupportAPIView):
    required_permissions = {"GET": READ_LIST_RECORDS}
    serializer_class = s.EntryOut
    get_object = staticmethod(selectors.entry_get)


class BlacklistApi(SupportAPIView):
    required_permissions = {"POST": MANAGE_LISTS}

    @extend_schema(request=s.BlacklistIn, responses={201: s.EntryOut})
    def post(self, request):
        entry = services.blacklist_add(actor=request.user, **self.validated(s.BlacklistIn))
        return Response(s.EntryOut(selectors.entry_get(entry.pk)).data, status=status.HTTP_201_CREATED)


class BoostApi(SupportAPIView):
    required_permissions = {"POST": MANAGE_LISTS}

    @extend_schema(request=s.BoostIn, responses={201: s.EntryOut})
    def post(self, request):
        entry = services.boost_add(actor=request.user, **self.validated(s.BoostIn))
        return Response(s.EntryOut(selectors.entry_get(entry.pk)).data, status=status.HTTP_201_CREATED)


class LiftApi(SupportAPIView):
    required_permissions = {"POST": MANAGE_LISTS}

    @extend_schema(request=s.LiftIn, responses={200: s.EntryOut})
    def post(self, request, pk):
        entry = services.entry_lift(entry=pk, actor=request.user, **self.validated(s.LiftIn))
        return Response(s.EntryOut(selectors.entry_get(entry.pk)).data)


# --- an ID: search and history ---------------------------------------------------------------------------


class EntitySearchApi(SupportAPIView):
    required_permissions = {"GET": READ_LIST_RECORDS}

    @extend_schema(
        responses=s.EntitySummaryOut(many=True),
        parameters=[
            OpenApiParameter(
                "q", {"type": "string", "pattern": NO_NUL}, required=True, description="An ID or its beginning."
            ),
            OpenApiParameter("entity_type", str),
        ],
    )
    def get(self, request):
        if "q" not in request.query_params:
            raise ApplicationError("Say which ID to look for: ?q=<an ID or its beginning>.", field="q")
        if "\x00" in request.query_params["q"]:
            raise ApplicationError("An ID holds no NUL character.", field="q")
        found = selectors.entity_search(
            query=request.query_params.get("q", ""), entity_type=request.query_params.get("entity_type") or None
        )
        return Response(s.EntitySummaryOut(found, many=True).data)


class HistoryApi(SupportAPIView):
    required_permissions = {"GET": READ_LIST_RECORDS}

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("entity_type", NOT_BLANK, required=True),
            OpenApiParameter("entity_id", NOT_BLANK, required=True),
        ],
    )
    def get(self, request):
        entity_type = request.query_params.get("entity_type", "").strip()
        entity_id = request.query_params.get("entity_id", "").strip()
        if not entity_type or not entity_id:
            raise ApplicationError("Say which ID: ?entity_type=…&entity_id=….", field="entity_id")
        events = selectors.entity_history(entity_type=entity_type, entity_id=entity_id)
        active = selectors.entity_active_entries(entity_type=entity_type, entity_id=entity_id)
        return Response(
            {
                "entity_type": entity_type,
                "entity_id": entity_id,
                "active": s.EntryOut(active, many=True).data,
                "history": s.HistoryEventOut(events, many=True).data,
            }
        )


# --- bulk uploads -------------------------------------------------------------------------------------------


class BulkListApi(SupportAPIView):
    required_permissions = {"GET": READ_LIST_RECORDS, "POST": MANAGE_LISTS}
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @list_schema(s.BulkOut)
    def get(self, request):
        return self.list_response(request, selectors.bulk_uploads(), s.BulkOut)

    @extend_schema(request=s.BulkIn, responses={201: s.BulkOut})
    def post(self, request):
        data = dict(self.validated(s.BulkIn))
        upload = data.pop("file")
        bulk = services.bulk_preview(actor=request.user, file=upload, filename=upload.name, **data)
        return Response(s.BulkOut(bulk).data, status=status.HTTP_201_CREATED)


class BulkDetailApi(DetailMixin, SupportAPIView):
    required_permissions = {"GET": READ_LIST_RECORDS}
    serializer_class = s.BulkOut
    get_object = staticmethod(selectors.bulk_get)


class BulkConfirmApi(SupportAPIView):
    required_permissions = {"POST": MANAGE_LISTS}

    @extend_schema(request=s.BulkConfirmIn, responses={200: s.BulkOut})
    def post(self, request, pk):
        bulk = services.bulk_confirm(bulk=pk, actor=request.user, **self.validated(s.BulkConfirmIn))
        return Response(s.BulkOut(bulk).data)


# --- privacy requests -----------------------------------------------------------------------------------------


class PrivacyRequestListApi(SupportAPIView):
    required_permissions = {"GET": READ_LIST_RECORDS, "POST": MANAGE_LISTS}

    @list_schema(s.PrivacyRequestOut)
    def get(self, request):
        return self.list_response(request, selectors.privacy_requests(), s.PrivacyRequestOut)

    @extend_schema(request=s.PrivacyRequestIn, responses={201: s.PrivacyRequestOut})
    def post(self, request):
        created = services.privacy_request_create(actor=request.user, **self.validated(s.PrivacyRequestIn))
        return Response(
            s.PrivacyRequestOut(selectors.privacy_request_get(created.pk)).data, status=status.HTTP_201_CREATED
        )


class PrivacyRequestDetailApi(DetailMixin, SupportAPIView):
    required_permissions = {"GET": READ_LIST_RECORDS}
    serializer_class = s.PrivacyRequestOut
    get_object = staticmethod(selectors.privacy_request_get)
