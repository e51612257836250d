from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET
from django.views.defaults import page_not_found
from django.views.defaults import server_error as server_error_page

from .errors import UNEXPECTED_MESSAGE, is_api_request


@require_GET
@login_not_required
def health(request):
    """Liveness for load balancers and the run script: answers once the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def not_found(request, exception=None):
    """The 404 of an address no route matches: the API's JSON error under /api/, Django's page elsewhere."""
    if is_api_request(request):
        return JsonResponse({"message": "Not found.", "detail": {}}, status=404)
    return page_not_found(request, exception)


def server_error(request):
    """The 500 of an exception outside any API view (a middleware's, with DEBUG off): the API's JSON
    error under /api/, the 500 page elsewhere. API views answer their own exceptions in JSON
    (mlops.errors.api_exception_handler), DEBUG on or off."""
    if is_api_request(request):
        return JsonResponse({"message": UNEXPECTED_MESSAGE, "detail": {}}, status=500)
    return server_error_page(request)
