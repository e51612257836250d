"""Seed the "Soom" upsell demo: its people, a pipeline token, and the upsell model's first two versions.

    python manage.py seed_demo                    # safe to run again: existing rows are kept
    python manage.py seed_demo --reset-passwords  # also puts the demo people's passwords back

Everything goes through the registry services, as a real pipeline and real reviewers would: two
training runs with their params, learning curves and tags; two versions with real joblib artifacts;
production moved to v1, then (after a challenger period) to v2; a relabelling campaign on v1's
serving log, open for the demo's labeller. The chapters are in demo.stories;
this command tells them in order.
"""

import time

from django.core.management.base import BaseCommand
from django.db import transaction

from demo.stories import data_audits, model_releases, people, relabelling, soom, support_desk
from mlops import roles


class Command(BaseCommand):
    help = (
        "Create the Soom upsell demo: demo users, a pipeline token, four versions of the upsell model and "
        "their promotion story (approvals, a rollback, a failed gate, a request awaiting review)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help=f"Set the demo people's passwords back to '{soom.DEMO_PASSWORD}'.",
        )

    def handle(self, *args, reset_passwords: bool, **options):
        began = time.monotonic()
        say = self.stdout.write
        roles.sync_role_groups()  # in case migrate ran before a role was added
        with transaction.atomic():
            users, shown_passwords = {}, {}
            for name, (group, superuser) in soom.PEOPLE.items():
                users[name], shown_passwords[name] = people.person(name, group, superuser, reset_passwords, say=say)
            pipeline, token = people.pipeline_user(say=say)
        # The registry part commits as one unit: a failed run leaves no half-seeded rows, so the next
        # run starts over (at worst an artifact file from the failed attempt stays in storage).
        with transaction.atomic():
            self._seed_model(
                owner=users["reviewer"], pipeline=pipeline, reviewers=(users["reviewer"], users["reviewer2"])
            )
        support_desk.lists(users["agent"], say=say)
        # After the privacy request: the erased customer's predictions are never drawn.
        model = model_releases.upsell_model(owner=users["reviewer"], say=say)
        relabelling.campaign(model, users["reviewer"], users["labeller2"], users["labeller3"], say=say)
        self._print_logins(shown_passwords, token)
        self.stdout.write(self.style.SUCCESS(f"Demo ready in {time.monotonic() - began:.1f} s."))

    def _seed_model(self, *, owner, pipeline, reviewers):
        say = self.stdout.write
        model = model_releases.upsell_model(owner=owner, say=say)
        if model.versions.exists():
            say(f"Model {soom.MODEL_NAME} already has versions; skipping training and alias moves.")
            # Kept, or added to a demo seeded before it existed.
            support_desk.explainable_customer(model, pipeline, say=say)
            return
        signups, versions, trained = model_releases.train_and_register(model, pipeline, say=say)
        october = data_audits.reference_and_october(model, versions[0], signups, pipeline, trained[0], say=say)
        model_releases.govern(model, versions, pipeline, reviewers, october, say=say)
        data_audits.broken_batches(model, pipeline, say=say)
        data_audits.serving_week(model, versions[0], pipeline, trained[0], owner, say=say)
        support_desk.explainable_customer(model, pipeline, say=say)

    def _print_logins(self, shown_passwords: dict[str, str], token):
        rows = [("username", "password", "role")]
        for name, password in shown_passwords.items():
            group, superuser = soom.PEOPLE[name]
            rows.append((name, password, "superuser (admin site)" if superuser else group))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING("Demo logins"))
        for index, row in enumerate(rows):
            self.stdout.write("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
            if index == 0:
                self.stdout.write("  " + "  ".join("-" * width for width in widths))
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING("Pipeline token"))
        self.stdout.write(f"  {soom.PIPELINE_USER} (pipelines): Authorization: Token {token.key}")
