from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET
from django.views.defaults import page_not_found


@require_GET
@login_not_required
def health(request):
    """Liveness for load balancers and the run script: answers once the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def not_found(request, exception=None):
    """The 404 of an address no route matches: the API's JSON error under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"message": "Not found.", "detail": {}}, status=404)
    return page_not_found(request, exception)
