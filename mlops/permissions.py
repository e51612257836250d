"""View decorators for Keel's roles. LoginRequiredMiddleware already sends anonymous visitors to the
login page, so these only check the role, and a signed-in user without it gets a 403 rather than a
login loop; the 403 page names the roles that would do."""

from django.contrib.auth.decorators import user_passes_test
from django.core.exceptions import PermissionDenied

from .roles import ROLE_PERMISSIONS, USE_KEEL


def roles_needed(perm: str) -> str:
    """Why a user without `perm` is refused: 'This needs the reviewers or pipelines role.'"""
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if perm in perms]
    if not roles:
        return "Your role does not allow this."
    return f"This needs the {' or '.join(roles)} role."


def permission_required_403(perm: str):
    """`permission_required` answering 403 (not a redirect to the login page) to a user without `perm`,
    saying which role is needed."""

    def check(user) -> bool:
        if user.has_perm(perm):
            return True
        raise PermissionDenied(roles_needed(perm))

    return user_passes_test(check)


keel_member_required = permission_required_403(USE_KEEL)
