"""Who is calling: the credentials the MLflow client sends, mapped to Keel users.

`MLFLOW_TRACKING_TOKEN` arrives as `Authorization: Bearer <token>`: a Keel API token (the same DRF
token API v1 takes as `Token <token>`, which is accepted too). `MLFLOW_TRACKING_USERNAME/PASSWORD`
arrive as HTTP Basic, checked against Keel's users (and django-axes' lock on password guessing).
A browser's session still works, with its CSRF check; token and Basic calls carry no cookie and need
none."""

import functools
import json

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Q
from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication, SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token

__all__ = [
    "BearerTokenAuthentication",
    "PasswordAuthentication",
    "AUTHENTICATION_CLASSES",
    "with_permissions",
    "token_with_permissions",
]


def with_permissions(user):
    """Reads the user's permissions, their own and their groups', in one query instead of
    ModelBackend's two, into the per-request cache ModelBackend.get_all_permissions reads
    (`_perm_cache`): every MLflow call checks one, and a client logs hundreds of calls a run.
    Superusers and inactive users are left to ModelBackend (it answers them without a query)."""
    if user.is_active and not user.is_superuser and not hasattr(user, "_perm_cache"):
        rows = Permission.objects.filter(Q(user=user) | Q(group__user=user)).values_list(
            "content_type__app_label", "codename"
        )
        user._perm_cache = {f"{app}.{codename}" for app, codename in rows}
    return user


@functools.cache
def _token_sql() -> str:
    """One statement for the token's user and their permissions (their own and their groups', as
    "app_label.codename", what ModelBackend caches). Its text is fixed, so the ORM compiles nothing
    per call; table names come from the models, the columns are django.contrib.auth's. The
    permission ids are a UNION of two indexed lookups: cheaper to plan than ModelBackend's OR over
    four outer joins."""
    user_model = get_user_model()
    tables = {
        "user": user_model._meta.db_table,
        "token": Token._meta.db_table,
        "permission": Permission._meta.db_table,
        "content_type": ContentType._meta.db_table,
        "own": user_model.user_permissions.through._meta.db_table,
        "granted": Group.permissions.through._meta.db_table,
        "member": user_model.groups.through._meta.db_table,
    }
    columns = ", ".join(f'u."{field.column}"' for field in user_model._meta.concrete_fields)
    pk = f'"{user_model._meta.pk.column}"'
    return f"""
        SELECT {columns}, (
            SELECT {{aggregate}}(c.app_label || '.' || p.codename)
              FROM {tables["permission"]} p JOIN {tables["content_type"]} c ON c.id = p.content_type_id
             WHERE p.id IN (
                 SELECT permission_id FROM {tables["own"]} WHERE user_id = u.{pk}
                 UNION
                 SELECT g.permission_id FROM {tables["granted"]} g
                   JOIN {tables["member"]} m ON m.group_id = g.group_id WHERE m.user_id = u.{pk})
        ) AS permission_names
          FROM {tables["token"]} t JOIN {tables["user"]} u ON u.{pk} = t.user_id
         WHERE t."key" = %s"""


def token_with_permissions(key: str):
    """(user, token) for a token key, with the user's permissions in ModelBackend's per-request
    cache (`_perm_cache`), in one query; None for an unknown key. Nothing outlives the request, so a
    revoked token or a changed group counts from the next call."""
    # PostgreSQL's ARRAY_AGG arrives as a list; SQLite has no arrays: JSON text it is.
    aggregate = "ARRAY_AGG" if connection.vendor == "postgresql" else "JSON_GROUP_ARRAY"
    user = next(iter(get_user_model().objects.raw(_token_sql().format(aggregate=aggregate), [key])), None)
    if user is None:
        return None
    permissions = user.permission_names
    if isinstance(permissions, str):
        permissions = json.loads(permissions)
    if not user.is_superuser:
        user._perm_cache = set(permissions or ())
    return user, Token(key=key, user=user)


class _PermissionsWithUser:
    def authenticate(self, request):
        found = super().authenticate(request)
        if found is not None:
            found = (with_permissions(found[0]), found[1])
        return found


class BearerTokenAuthentication(_PermissionsWithUser, TokenAuthentication):
    """A Keel API token sent as `Bearer <key>` (what the MLflow client sends) or `Token <key>`."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme = header.split(" ", 1)[0].lower() if header else ""
        if scheme == "bearer":
            self.keyword = "Bearer"
        elif scheme == "token":
            self.keyword = "Token"
        else:
            return None
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        """DRF's check (a known key of an active user) with the user and their permissions read in
        the same query: a call costs one read to know who is calling and what they may do. Nothing
        outlives the request, so a revoked token or a group change counts from the next call."""
        found = token_with_permissions(key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not found[0].is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return found

    def authenticate_header(self, request):
        return 'Bearer realm="keel"'


class PasswordAuthentication(_PermissionsWithUser, BasicAuthentication):
    www_authenticate_realm = "keel"


AUTHENTICATION_CLASSES = [BearerTokenAuthentication, PasswordAuthentication, SessionAuthentication]
