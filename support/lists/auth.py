"""Pollers' tokens, checked from the cache: a token's user and permissions are kept for
KEEL_SUPPORT_LISTS_AUTH_CACHE_SECONDS, so a poll needs no database query for authentication. A
removed role therefore still reads the lists for at most that long; a deleted token (revoked,
rotated) or a deactivated user's token loses its grant at once (`forget_token`, on post_delete and
post_save, connected by SupportConfig.ready)."""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.drainage import set_override
from rest_framework.authentication import TokenAuthentication

from . import store
from .near import CHANNEL, near
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


def forget_token(key: str) -> None:
    """Drop a token's cached grant, here and in every worker's near cache (they clear on any
    announcement on the lists' channel)."""
    cache.delete(grant_key(key))
    near.clear()
    _, client = store.thread_client()
    if client is not None:
        client.publish(CHANNEL, b"changed")


def forget_deleted_token(sender, instance, **kwargs) -> None:
    forget_token(instance.key)


def forget_deactivated_users_token(sender, instance, **kwargs) -> None:
    if not instance.is_active:
        from rest_framework.authtoken.models import Token

        for key in Token.objects.filter(user_id=instance.pk).values_list("key", flat=True):
            forget_token(key)


# In the OpenAPI schema it is the same "tokenAuth" scheme as DRF's TokenAuthentication.
set_override(CachedTokenAuthentication, "suppress_collision_warning", True)
