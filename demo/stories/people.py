"""The demo's accounts: Soom's reviewers, support agent, labeller and admin, and the upsell pipeline
that signs in with a token only."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token

from mlops import roles

from . import soom


def person(username: str, group: str | None, superuser: bool, reset_password: bool, *, say):
    """The user, and the password to show for it (a kept account's password is not ours to print)."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"email": f"{username}@soom.example", "is_staff": superuser, "is_superuser": superuser},
    )
    if created or reset_password:
        user.set_password(soom.DEMO_PASSWORD)
        user.save()
    if group:
        user.groups.add(Group.objects.get(name=group))
    say(f"{'Created' if created else 'Kept'} user {username}.")
    return user, soom.DEMO_PASSWORD if created or reset_password else "(unchanged)"


def pipeline_user(*, say):
    """The upsell pipeline's user and its API token."""
    User = get_user_model()
    user, created = User.objects.get_or_create(username=soom.PIPELINE_USER)
    if created:
        # As create_pipeline_user does: a pipeline signs in with its token only.
        user.set_unusable_password()
        user.save()
    elif user.has_usable_password():
        raise CommandError(
            f"User '{soom.PIPELINE_USER}' exists and signs in with a password; "
            "the demo will not turn a person's account into a pipeline."
        )
    user.groups.add(Group.objects.get(name=roles.PIPELINES))
    token, _ = Token.objects.get_or_create(user=user)
    say(f"{'Created' if created else 'Kept'} pipeline user {soom.PIPELINE_USER}.")
    return user, token
