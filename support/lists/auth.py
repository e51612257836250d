"""Pollers' tokens, checked from the cache: a token's user and permissions are kept for
KEEL_SUPPORT_LISTS_AUTH_CACHE_SECONDS, so a poll needs no database query for authentication (a
revoked token or a removed role therefore still reads the lists for at most that long)."""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.drainage import set_override
from rest_framework.authentication import TokenAuthentication

from .store import get_many


def grant_key(token: str) -> str:
    """The cache key of a token's grant (its sha256: the token itself is never a key)."""
    return "support:lists:auth:" + hashlib.sha256(token.encode()).hexdigest()


def granted(found: dict | None, permission: str, now: datetime) -> bool:
    """A cached grant carries its own end, so a copy of it (a worker's near cache) ends with it."""
    return (
        found is not None
        and now.timestamp() < found.get("until", 0)
        and (found["permissions"] is None or permission in found["permissions"])
    )


@dataclass(frozen=True)
class CachedGrant:
    """request.auth of a poller authenticated from the cache: the permissions its user had."""

    permissions: frozenset[str]


class CachedTokenAuthentication(TokenAuthentication):
    """Token authentication whose result (user and permissions, never the password hash) is cached
    briefly: serving systems poll with the same token many times a second."""

    def authenticate_credentials(self, key):
        cache_key = grant_key(key)
        found = get_many([cache_key]).get(cache_key)
        now = timezone.now().timestamp()
        if found is None or now >= found.get("until", 0):
            user, _ = super().authenticate_credentials(key)  # raises for an unknown or inactive user
            seconds = max(1, settings.KEEL_SUPPORT_LISTS_AUTH_CACHE_SECONDS)
            found = {
                "pk": user.pk,
                "username": user.get_username(),
                "until": now + seconds,
                "permissions": frozenset(user.get_all_permissions()) if not user.is_superuser else None,
            }
            cache.set(cache_key, found, timeout=seconds)
        from django.contrib.auth import get_user_model

        user_model = get_user_model()
        user = user_model(pk=found["pk"], is_active=True, is_superuser=found["permissions"] is None)
        setattr(user, user_model.USERNAME_FIELD, found["username"])
        return user, CachedGrant(found["permissions"] or frozenset())

    def authenticate_header(self, request):
        return "Token"


# In the OpenAPI schema it is the same "tokenAuth" scheme as DRF's TokenAuthentication.
set_override(CachedTokenAuthentication, "suppress_collision_warning", True)
