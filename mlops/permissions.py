"""View decorators for Keel's roles. LoginRequiredMiddleware already sends anonymous visitors to the
login page, so these only check the role, and a signed-in user without it gets a 403 rather than a
login loop."""

from django.contrib.auth.decorators import permission_required

from .roles import USE_KEEL


def permission_required_403(perm: str):
    """`permission_required` answering 403 (not a redirect to the login page) to a user without `perm`."""
    return permission_required(perm, raise_exception=True)


keel_member_required = permission_required_403(USE_KEEL)
