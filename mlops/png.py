"""A drawn plot served over HTTP: the one response every page and API that serves a PNG gives."""

from django.http import HttpResponse
from django.utils.cache import patch_cache_control

# A plot is drawn from results that never change once recorded, so a browser may keep it; `private`
# because it shows data behind a login, not for shared caches.
PLOT_MAX_AGE = 3600


def png_response(png: bytes) -> HttpResponse:
    response = HttpResponse(png, content_type="image/png")
    patch_cache_control(response, private=True, max_age=PLOT_MAX_AGE)
    return response
