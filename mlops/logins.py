"""Sign-in throttling on top of django-axes: the authentication backend, the client address a failure
is counted against, and the page a locked-out person sees.

Axes counts failed sign-ins per account and per address (AXES_LOCKOUT_PARAMETERS); at
AXES_FAILURE_LIMIT either one is locked for AXES_COOLOFF_TIME. Token-authenticated API calls never
go through `authenticate()`, so pipelines are not affected.
"""

import ipaddress
import math

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.urls import reverse


class KeelAxesBackend(AxesStandaloneBackend):
    """Axes' lock check, first in AUTHENTICATION_BACKENDS. A call without a request (a shell, a
    management command, the test client's `login()`) has no address to count and is not a sign-in
    over the web, so it goes straight on to the next backend instead of raising."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def _valid_address(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The address a sign-in came from. Behind KEEL_TRUSTED_PROXY_COUNT reverse proxies (each
    appending the address it saw to X-Forwarded-For) it is that many entries from the right of the
    header; entries further left are whatever the client sent and are never trusted."""
    remote = _valid_address(request.META.get("REMOTE_ADDR"))
    hops = settings.KEEL_TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < hops:
        return remote
    return _valid_address(forwarded[-hops]) or remote


def lockout_response(request, original_response=None, credentials=None):
    """The sign-in page again, saying the account or address is locked and for how long (429 with
    Retry-After). Each attempt during a lock starts the cool-off again, so the wait counts from now."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds())
    minutes = max(1, math.ceil(seconds / 60))
    on_admin = request.path_info.startswith(reverse("admin:login"))
    next_url = request.POST.get("next") or request.GET.get("next") or (reverse("admin:index") if on_admin else "")
    context = {
        "form": AuthenticationForm(request),
        "next": next_url,
        "locked_out_minutes": minutes,
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
