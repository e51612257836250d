"""Create (or reuse) a pipeline account and print its API token.

    python manage.py create_pipeline_user nightly-training          # prints the token
    python manage.py create_pipeline_user nightly-training --rotate # replaces it, prints the new one

Only the token goes to stdout, so a script can capture it: TOKEN=$(python manage.py create_pipeline_user x).
A pipeline account has an unusable password: it signs in with its token only, never through the login page.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from mlops import roles


class Command(BaseCommand):
    help = "Create or reuse a user in the pipelines group (no password) and print its API token."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Username of the pipeline account, e.g. nightly-training.")
        parser.add_argument(
            "--rotate", action="store_true", help="Replace the account's token; the old one stops working at once."
        )

    @transaction.atomic
    def handle(self, *args, name: str, rotate: bool, **options):
        User = get_user_model()
        username_field = User._meta.get_field(User.USERNAME_FIELD)
        try:
            username_field.run_validators(name)
        except ValidationError as exc:
            raise CommandError(f"'{name}' is not a valid username: {' '.join(exc.messages)}") from exc

        group = Group.objects.filter(name=roles.PIPELINES).first()
        if group is None:
            roles.sync_role_groups()
            group = Group.objects.get(name=roles.PIPELINES)

        user = User.objects.select_for_update().filter(**{User.USERNAME_FIELD: name}).first()
        if user is None:
            user = User(**{User.USERNAME_FIELD: name})
            user.set_unusable_password()
            user.save()
            self.stderr.write(f"Created pipeline user '{name}'.")
        else:
            # Never turn a person's account into a token-only pipeline account.
            if user.has_usable_password():
                raise CommandError(
                    f"User '{name}' already exists and signs in with a password; "
                    "pick another name for the pipeline account."
                )
            if not user.is_active:
                raise CommandError(f"User '{name}' exists but is deactivated; reactivate it in the admin first.")
            self.stderr.write(f"Reusing pipeline user '{name}'.")
        user.groups.add(group)

        if rotate:
            deleted, _ = Token.objects.filter(user=user).delete()
            token = Token.objects.create(user=user)
            self.stderr.write("Rotated the token; the old one no longer works." if deleted else "Created a token.")
        else:
            token, created = Token.objects.get_or_create(user=user)
            if created:
                self.stderr.write("Created a token.")
        self.stdout.write(token.key)
