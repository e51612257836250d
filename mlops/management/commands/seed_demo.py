"""Seed the "Soom" upsell demo: its people, a pipeline token, and the upsell model's first two versions.

    python manage.py seed_demo                    # safe to run again: existing rows are kept
    python manage.py seed_demo --reset-passwords  # also puts the demo people's passwords back

Everything goes through the registry services, as a real pipeline and real reviewers would: two
training runs with their params, learning curves and tags; two versions with real joblib artifacts;
production moved to v1, then (after a challenger period) to v2.
"""

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from mlops import roles
from mlops.demo.signups import generate_signups, minutes_as_hours
from mlops.demo.serving import serving_records
from mlops.demo.training import FEATURES, TrainedModel, train_upsell_model
from audits import services as audit_services
from mlops.demo.batches import FLIPPED_DATE_FORMAT, clean_batch, festival_batch, shifted_batch, to_csv
from threadpoolctl import threadpool_limits

from registry import services
from registry.gate import run_gate
from registry.models import RegisteredModel, RunStatus, TaskType

DEMO_PASSWORD = "keel-demo"
PIPELINE_USER = "upsell-pipeline"
MODEL_NAME = "upsell"
EXPERIMENT_NAME = "upsell-nightly"
SEED = 2026
SIGNUPS = 36_000  # Jan–Sep 2026, about 130 a day
DATA_START, DATA_END = date(2026, 1, 1), date(2026, 9, 30)

# username -> (role group or None, is superuser)
PEOPLE = {
    "reviewer": (roles.REVIEWERS, False),
    "reviewer2": (roles.REVIEWERS, False),
    "agent": (roles.SUPPORT_AGENTS, False),
    "labeller": (roles.LABELLERS, False),
    "admin": (None, True),
}

MODEL_DESCRIPTION = (
    "Scores each new free-tier Soom signup on how likely it is to buy a paid plan within 90 days "
    "(label `upgraded_90d`). Sales reach out to signups at or above the version's decision threshold; "
    "support can see why a customer was scored as they were.\n\n"
    "Features: plan, country, event_type (meeting, webinar, conference, meetup), meeting_minutes and "
    "attendees of the first event. Trained nightly by `upsell-pipeline` on the signups of the window "
    "shown on each version; measured on the latest 20% of that window (a time-based hold-out)."
)


@dataclass(frozen=True)
class Release:
    """One training run and the version it registers."""

    run_name: str
    window_end: date
    hyperparameters: dict
    code_commit: str
    trained_at: datetime
    description: str
    # The training feed delivered meeting_minutes in hours: the story's candidate the gate must stop.
    unit_bug: bool = False


RELEASES = [
    Release(
        run_name="upsell-2026-07-02",
        window_end=date(2026, 6, 30),
        hyperparameters={"learning_rate": 0.1, "max_iter": 150, "max_depth": 4, "l2_regularization": 0.0},
        code_commit="3f9c2a7e1b4d6f8a0c2e4b6d8f0a1c3e5b7d9f20",
        trained_at=datetime(2026, 7, 2, 2, 0, tzinfo=UTC),
        description="First upsell model, trained on January–June 2026 signups.",
    ),
    Release(
        run_name="upsell-2026-10-02",
        window_end=DATA_END,
        hyperparameters={"learning_rate": 0.05, "max_iter": 250, "max_depth": 3, "l2_regularization": 1.0},
        code_commit="8e1d4b7a2c5f9e3d6b0a4c8e2f6d1b5a9c3e7f41",
        trained_at=datetime(2026, 10, 2, 2, 0, tzinfo=UTC),
        description="Retrained on January–September 2026 signups with shallower, more regularised trees.",
    ),
    Release(
        run_name="upsell-2026-10-16",
        window_end=DATA_END,
        hyperparameters={"learning_rate": 0.05, "max_iter": 250, "max_depth": 3, "l2_regularization": 1.0},
        code_commit="c4a8e2f6b0d3a7c1e5f9b3d7a1c5e9f3b7d1a5c9",
        trained_at=datetime(2026, 10, 16, 2, 0, tzinfo=UTC),
        description="Retrained on the new warehouse export.",
        unit_bug=True,
    ),
    Release(
        run_name="upsell-2026-10-30",
        window_end=DATA_END,
        hyperparameters={"learning_rate": 0.08, "max_iter": 200, "max_depth": 4, "l2_regularization": 0.5},
        code_commit="f0b6d2a8c4e1f7b3d9a5c1e7f3b9d5a1c7e3f9b5",
        trained_at=datetime(2026, 10, 30, 2, 0, tzinfo=UTC),
        description="Retrained on the new warehouse export with meeting durations converted back to minutes.",
    ),
]
HOLDOUT_SIGNUPS = 2_000  # October 2026: signups none of the versions trained on
BATCH_SIGNUPS = 2_000  # each November batch the audits look at
SERVING_SIGNUPS = 2_800  # a week of logged predictions
SURFACES = {"upsell-email": "The weekly upgrade email to free-tier customers.",
            "in-app-upgrade": "The upgrade suggestions inside the Soom app."}


def _scores(result: TrainedModel, frame) -> list[float]:
    """The model's upgrade probability for each row, as serving computes it."""
    with threadpool_limits(limits=1, user_api="openmp"):
        return [round(float(p), 6) for p in result.pipeline.predict_proba(frame[FEATURES])[:, 1]]


class Command(BaseCommand):
    help = ("Create the Soom upsell demo: demo users, a pipeline token, four versions of the upsell model and "
            "their promotion story (approvals, a rollback, a failed gate, a request awaiting review).")

    def add_arguments(self, parser):
        parser.add_argument("--reset-passwords", action="store_true",
                            help=f"Set the demo people's passwords back to '{DEMO_PASSWORD}'.")

    def handle(self, *args, reset_passwords: bool, **options):
        began = time.monotonic()
        roles.sync_role_groups()  # in case migrate ran before a role was added
        with transaction.atomic():
            people, shown_passwords = {}, {}
            for name, (group, superuser) in PEOPLE.items():
                people[name], shown_passwords[name] = self._person(name, group, superuser, reset_passwords)
            pipeline, token = self._pipeline_user()
        # The registry part commits as one unit: a failed run leaves no half-seeded rows, so the next
        # run starts over (at worst an artifact file from the failed attempt stays in storage).
        with transaction.atomic():
            self._seed_model(owner=people["reviewer"], pipeline=pipeline,
                             reviewers=(people["reviewer"], people["reviewer2"]))
        self._support_story(people["agent"])
        self._print_logins(shown_passwords, token)
        self.stdout.write(self.style.SUCCESS(f"Demo ready in {time.monotonic() - began:.1f} s."))

    # --- people -----------------------------------------------------------------------------

    def _person(self, username: str, group: str | None, superuser: bool, reset_password: bool):
        """The user, and the password to show for it (a kept account's password is not ours to print)."""
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@soom.example", "is_staff": superuser,
                                         "is_superuser": superuser})
        if created or reset_password:
            user.set_password(DEMO_PASSWORD)
            user.save()
        if group:
            user.groups.add(Group.objects.get(name=group))
        self.stdout.write(f"{'Created' if created else 'Kept'} user {username}.")
        return user, DEMO_PASSWORD if created or reset_password else "(unchanged)"

    def _pipeline_user(self):
        User = get_user_model()
        user, created = User.objects.get_or_create(username=PIPELINE_USER)
        if created:
            # As create_pipeline_user does: a pipeline signs in with its token only.
            user.set_unusable_password()
            user.save()
        elif user.has_usable_password():
            raise CommandError(f"User '{PIPELINE_USER}' exists and signs in with a password; "
                               "the demo will not turn a person's account into a pipeline.")
        user.groups.add(Group.objects.get(name=roles.PIPELINES))
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(f"{'Created' if created else 'Kept'} pipeline user {PIPELINE_USER}.")
        return user, token

    # --- the upsell model -------------------------------------------------------------------

    def _seed_model(self, *, owner, pipeline, reviewers):
        model = RegisteredModel.objects.filter(name=MODEL_NAME).first()
        if model is None:
            model = services.model_create(name=MODEL_NAME, task_type=TaskType.BINARY, owner=owner,
                                          description=MODEL_DESCRIPTION)
            self.stdout.write(f"Registered model {MODEL_NAME}.")
        if model.versions.exists():
            self.stdout.write(f"Model {MODEL_NAME} already has versions; skipping training and alias moves.")
            self._explainable_customer(model, pipeline)  # kept, or added to a demo seeded before it existed
            return
        experiment = services.experiment_get_or_create(name=EXPERIMENT_NAME, actor=pipeline)

        self.stdout.write(f"Generating {SIGNUPS:,} signups ({DATA_START} to {DATA_END})…")
        signups = generate_signups(SIGNUPS, start=DATA_START, end=DATA_END, seed=SEED)
        versions, trained = [], []
        for release in RELEASES:
            frame = signups[signups["signup_date"] <= str(release.window_end)]
            if release.unit_bug:
                frame = minutes_as_hours(frame)
            self.stdout.write(f"Training {release.run_name} on {len(frame):,} signups…")
            result = train_upsell_model(frame, hyperparameters=release.hyperparameters, seed=SEED)
            versions.append(self._register(model, experiment, pipeline, release, result))
            self.stdout.write(f"  v{versions[-1].version}: hold-out ROC AUC {result.metrics['roc_auc']:.3f}, "
                              f"threshold {result.decision_threshold:.3f}.")
            trained.append(result)
        october = self._audit_story_start(model, versions[0], signups, pipeline, trained[0])
        self._govern(model, versions, pipeline, reviewers, october)
        self._audit_broken_batches(model, pipeline)
        self._serving_story(model, versions[0], pipeline, trained[0], owner)
        self._explainable_customer(model, pipeline)

    def _register(self, model, experiment, pipeline, release: Release, result: TrainedModel):
        run = services.run_create(
            experiment=experiment, actor=pipeline, name=release.run_name, code_commit=release.code_commit,
            started_at=release.trained_at,
            tags={"mlflow.source.git.commit": release.code_commit, "mlflow.user": PIPELINE_USER,
                  "trigger": "nightly", "dataset": "soom-signups"},
        )
        params = {**result.hyperparameters, "seed": SEED, "train_window_start": result.train_window_start,
                  "train_window_end": result.train_window_end, "holdout_start": result.holdout_start,
                  "n_train": result.n_train, "n_holdout": result.n_holdout}
        # The learning curve is logged as it would be live: one point per step, a second apart.
        start_ms = int(release.trained_at.timestamp() * 1000)
        history = []
        for step, roc_auc, loss in result.learning_curve:
            at = start_ms + step * 1000
            history += [{"key": "holdout_roc_auc", "value": roc_auc, "step": step, "timestamp": at},
                        {"key": "holdout_log_loss", "value": loss, "step": step, "timestamp": at}]
        end_ms = start_ms + (result.learning_curve[-1][0] + 5) * 1000
        final = [{"key": key, "value": value, "step": 0, "timestamp": end_ms} for key, value in result.metrics.items()]
        services.run_log(run=run, actor=pipeline, params=[(k, str(v)) for k, v in params.items()],
                         metrics=history + final)
        services.run_set_status(run=run, status=RunStatus.FINISHED,
                                ended_at=datetime.fromtimestamp(end_ms / 1000, tz=UTC))

        window = f"{result.train_window_start:%Y-%m-%d}_{result.train_window_end:%Y-%m-%d}"
        version = services.version_create(
            model=model, actor=pipeline, run=run, description=release.description,
            feature_schema=result.feature_schema, decision_threshold=result.decision_threshold,
            train_window_start=result.train_window_start, train_window_end=result.train_window_end,
            dataset_uri=f"s3://soom-ml/upsell/signups/{window}.csv", dataset_sha256=result.dataset_sha256,
            code_commit=release.code_commit, hyperparameters=result.hyperparameters, metrics=result.metrics,
            tags={"source": "seed_demo"},
        )
        upload = SimpleUploadedFile("model.joblib", result.artifact_bytes, content_type="application/octet-stream")
        return services.artifact_attach(version=version, uploaded=upload, sha256=result.artifact_sha256)

    def _audit_story_start(self, model, v1, signups, pipeline, result: TrainedModel) -> bytes:
        """v1's training reference (with v1's scores on it, the baseline of prediction drift), and
        October's clean signups audited against it. Returns October's CSV: the same bytes become the
        gate's hold-out, so the gate cites their passing audit."""
        training = signups[signups["signup_date"] <= str(v1.train_window_end)].copy()
        training["score"] = _scores(result, training)
        job = audit_services.reference_submit(
            version=v1, actor=pipeline, uploaded=SimpleUploadedFile("signups-2026-h1.csv", to_csv(training)),
            id_columns=["customer_id"], timestamp_columns=["signup_date"], label_column="upgraded_90d",
            prediction_column="score")
        audit_services.audit_run(job_id=job.pk)  # here, not after the seed's transaction commits
        self.stdout.write(f"Built v1's training reference from {len(training):,} signups.")
        october = clean_batch(HOLDOUT_SIGNUPS, start=date(2026, 10, 1), end=date(2026, 10, 31), seed=SEED + 1,
                              first_customer=SIGNUPS + 1)
        content = to_csv(october)
        self._audit(model, pipeline, "signups-2026-10.csv", content, version=v1)
        return content

    def _audit(self, model, pipeline, name: str, content: bytes, version=None):
        job = audit_services.audit_submit(model=model, actor=pipeline, name=name, version=version,
                                          uploaded=SimpleUploadedFile(name, content))
        job = audit_services.audit_run(job_id=job.pk)
        failed = job.findings.filter(status="fail").count()
        self.stdout.write(f"Audit #{job.pk} of {name}: {job.verdict or job.state} ({failed} failing checks).")

    def _audit_broken_batches(self, model, pipeline):
        """The batches the audits exist for: each broken the way real feeds break."""
        november = dict(start=date(2026, 11, 1), end=date(2026, 11, 15), seed=SEED + 2,
                        first_customer=SIGNUPS + HOLDOUT_SIGNUPS + 1)
        self._audit(model, pipeline, "signups-2026-11-a-lobby-minutes.csv",
                    to_csv(shifted_batch(BATCH_SIGNUPS, **november)))
        self._audit(model, pipeline, "signups-2026-11-b-festivals.csv", to_csv(festival_batch(BATCH_SIGNUPS, **november)))
        self._audit(model, pipeline, "signups-2026-11-c-new-export.csv",
                    to_csv(clean_batch(BATCH_SIGNUPS, **november), date_format=FLIPPED_DATE_FORMAT))

    def _serving_story(self, model, v1, pipeline, result: TrainedModel, owner):
        """A week of v1's serving logs, sent through the bulk API's service; the new request parser
        of the last two days drops meeting_minutes, and the skew audit of the window says so."""
        if model.predictions.exists():
            return
        now = timezone.now().replace(microsecond=0)
        week = clean_batch(SERVING_SIGNUPS, start=date(2026, 11, 16), end=date(2026, 11, 22), seed=SEED + 3,
                           first_customer=SIGNUPS + HOLDOUT_SIGNUPS + BATCH_SIGNUPS + 1)
        healthy, broken = week.iloc[:SERVING_SIGNUPS * 5 // 7], week.iloc[SERVING_SIGNUPS * 5 // 7:]
        every = timedelta(days=7) / SERVING_SIGNUPS
        start = now - timedelta(days=7)
        records = serving_records(healthy, _scores(result, healthy), version=v1.version, start=start, every=every,
                                  request_prefix="web")
        records += serving_records(broken, _scores(result, broken), version=v1.version,
                                   start=start + len(healthy) * every, every=every, request_prefix="web-parser2",
                                   dropped_by_processing="meeting_minutes")
        for record in records:
            record["predicted_at"] = datetime.fromisoformat(record["predicted_at"])
        counts = audit_services.predictions_log(model=model, records=records)
        self.stdout.write(f"Logged {counts['stored']:,} predictions of v1 from the last 7 days.")
        job = audit_services.serving_audit_submit(model=model, actor=owner, since=start, until=now, version=v1)
        job = audit_services.audit_run(job_id=job.pk)
        self.stdout.write(f"Audit #{job.pk} of the serving log: {job.verdict or job.state} "
                          f"({job.findings.filter(status='fail').count()} failing checks).")
        audit_services.schedule_create(model=model, actor=owner, name="nightly-serving-log", source="serving_log",
                                       cron="0 2 * * *", window_hours=24)
        audit_services.schedule_create(model=model, actor=owner, name="daily-signups", source="storage_path",
                                       cron="0 6 * * *", storage_path="incoming/upsell/signups-%Y-%m-%d.csv")

    def _govern(self, model, versions, pipeline, reviewers, october: bytes):
        """Replay the promotion story through the real workflow: gate, four eyes, rollback."""
        v1, v2, v3, v4 = versions
        reviewer, second_reviewer = reviewers
        services.policy_update(model=model, actor=reviewer, primary_metric="roc_auc", max_regression=0.02,
                               min_margin_over_baseline=0.05, max_flip_rate=0.15, slice_columns=["country", "plan"],
                               min_slice_rows=40, max_slice_gap=0.35, staleness_days=60)
        holdout = services.holdout_register(
            model=model, actor=pipeline, name="October 2026 signups", label_column="upgraded_90d",
            uploaded=SimpleUploadedFile("signups-2026-10.csv", october),
            window_start=date(2026, 10, 1), window_end=date(2026, 10, 31))

        def request(version, reason):
            created = services.promotion_request_create(version=version, actor=pipeline, reason=reason,
                                                        holdout=holdout)
            # The gate runs here rather than after the seed's transaction commits, so the story can go on.
            validated = run_gate(request_id=created.pk)
            verdict = validated.state.replace("_", " ")
            self.stdout.write(f"Promotion request #{validated.pk}: v{version.version} → production: {verdict}.")
            return validated

        def approve(req, actor, comment):
            services.promotion_approve(request=req, actor=actor, comment=comment)
            self.stdout.write(f"  approved by {actor.username}.")

        approve(request(v1, "First upsell model; launches the outreach programme."), reviewer,
                "Clears the baseline comfortably; threshold as proposed.")
        approve(request(v2, "Nightly retrain on January–September signups."), second_reviewer,
                "Holds up on October signups; fewer false leads in the slices we watch.")
        services.promotion_rollback(model=model, to_version=v1, actor=reviewer,
                                    reason="Sales report v2 doubled the outreach list in its first week; back to "
                                           "v1 while we look at the threshold.")
        self.stdout.write("Production rolled back to v1 by reviewer.")
        request(v3, "Nightly retrain on the new warehouse export.")
        request(v4, "Retrain with meeting durations back in minutes; ready for review.")

    def _explainable_customer(self, model, pipeline):
        """v1's explainer background, sampled from its training data, and the explanation of a
        customer v1 scored high in its serving logs, computed now so the demo page opens at once.
        Safe to run again: the background is kept and the explanation is answered from the cache."""
        from audits.models import PredictionLog
        from support.services import explanations

        v1 = model.versions.filter(version=1).first()
        if v1 is None:
            return
        background = explanations.explainer_background_from_reference(version=v1)
        if background is not None:
            self.stdout.write(f"Explainer background of v1: {background.source}.")
        production = explanations.production_version(model)
        if production is None:
            return
        names = [feature["name"] for feature in production.feature_schema]
        # The healthy part of the week (the new parser's rows lack meeting_minutes), highest score first.
        logged = (PredictionLog.objects.filter(model=model, version=v1, erased_at__isnull=True, score__isnull=False)
                  .exclude(entity_id="").order_by("-score", "entity_id").only("entity_id", "features", "score"))
        customer = next((row for row in logged[:200] if all(row.features.get(name) is not None for name in names)),
                        None)
        if customer is None:
            return
        explanation = explanations.explanation_request(actor=pipeline, model=model, entity_id=customer.entity_id)
        reasons = (explanation.result or {}).get("reasons") or []
        self.stdout.write(f"Explainable customer {customer.entity_id} (v1 scored {customer.score:.2f}; explanation "
                          f"#{explanation.pk} {explanation.state}{': ' + reasons[0] if reasons else ''}).")
        self.stdout.write(f"Explain a decision: /support/explain/?entity_id={customer.entity_id}")

    def _support_story(self, agent):
        """What the support desk did this month: surfaces, a fraud blacklist on outreach, an
        inappropriate product pulled from recommendations, a cold-start boost, and a privacy request
        whose erasure reaches the serving logs. Skipped when the lists already have entries."""
        from support import services as support_services
        from support.models import ListEntry, Surface

        if ListEntry.objects.exists():
            return
        model = RegisteredModel.objects.get(name=MODEL_NAME)
        for name, description in SURFACES.items():
            if not Surface.objects.filter(name=name).exists():
                support_services.surface_create(name=name, description=description, model=model)
        now = timezone.now()
        support_services.blacklist_add(actor=agent, entity_type="customer", entity_id="C000042", reason="fraud",
                                       note="Chargebacks on three cards; ticket SUP-1182.", surfaces=["upsell-email"])
        support_services.blacklist_add(actor=agent, entity_type="product", entity_id="addon-party-pack",
                                       reason="inappropriate", note="Novelty backgrounds flagged in a school account.",
                                       all_surfaces=True, expires_at=now + timedelta(days=90))
        support_services.boost_add(actor=agent, entity_type="product", entity_id="plan-webinar-pro", weight=1.5,
                                   reason="cold_start", note="New plan launched 2026-11-20: two weeks of lift.",
                                   surfaces=["in-app-upgrade"], expires_at=now + timedelta(days=14))
        logged = (model.predictions.exclude(entity_id="").order_by("score", "entity_id")
                  .values_list("entity_id", flat=True).first())
        if logged:
            request = support_services.privacy_request_create(actor=agent, entity_id=logged, reference="DSR-2026-311",
                                                              note="Customer asked to be forgotten by email.")
            self.stdout.write(f"Privacy request #{request.pk} for {logged}: blacklisted everywhere, logs erased.")
        self.stdout.write("Support lists: 2 blacklists, 1 boost; serving systems poll /api/v1/support/lists?surface=…")

    # --- output -----------------------------------------------------------------------------

    def _print_logins(self, shown_passwords: dict[str, str], token):
        rows = [("username", "password", "role")]
        for name, password in shown_passwords.items():
            group, superuser = PEOPLE[name]
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
        self.stdout.write(f"  {PIPELINE_USER} (pipelines): Authorization: Token {token.key}")
