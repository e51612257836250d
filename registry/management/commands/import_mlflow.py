"""Copy an existing MLflow history into Keel, from a running MLflow server.

    python manage.py import_mlflow --tracking-uri http://mlflow.internal:5000 --as nightly-training
    python manage.py import_mlflow --tracking-uri URI --experiment churn --model churn --as alice

Experiments, runs (params, metric histories, tags, artifacts), logged models, registered models,
their versions and aliases; the copying is registry.services.mlflow_import. Run it again at any
time: what is already in Keel is skipped, an interrupted import is finished. Progress goes to
stderr, the summary to stdout; the exit code is non-zero when the server cannot be read or a named
experiment or model does not exist there."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from mlops import roles
from registry import services

# The client retries a dead server for minutes by default; an import says so within seconds.
CLIENT_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # One progress bar on stderr, the import's, not the client's per download.
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
ORDER = ("experiments", "runs", "params", "metrics", "artifacts", "logged_models", "models", "versions", "aliases")


class Progress:
    """A tqdm bar on stderr per stage ("runs of 'churn'  12/40")."""

    def __init__(self, stream, enabled: bool):
        self.stream, self.enabled, self.bar = stream, enabled, None

    def begin(self, what: str, total: int) -> None:
        self.close()
        if self.enabled:
            self.bar = tqdm(total=total, desc=what, unit="", file=self.stream, leave=True, dynamic_ncols=True)

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(BaseCommand):
    help = "Copy experiments, runs, registered models, versions and aliases from a running MLflow server."

    def add_arguments(self, parser):
        parser.add_argument("--tracking-uri", required=True, help="The MLflow server, e.g. http://mlflow:5000.")
        parser.add_argument(
            "--experiment", action="extend", nargs="+", default=[], metavar="NAME", help="Only these experiments."
        )
        parser.add_argument(
            "--model", action="extend", nargs="+", default=[], metavar="NAME", help="Only these models."
        )
        parser.add_argument(
            "--as",
            dest="as_user",
            required=True,
            metavar="USERNAME",
            help="The Keel user the imported records name as their registrar.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bars on stderr.")

    def handle(self, *args, tracking_uri, experiment, model, as_user, no_progress, **options):
        actor = self._actor(as_user)
        # The client reads its settings from the environment; an operator's own values win, and the
        # defaults are taken back afterwards (call_command runs in a longer-lived process in tests).
        added = {name: value for name, value in CLIENT_DEFAULTS.items() if name not in os.environ}
        os.environ.update(added)
        progress = Progress(self.stderr._out, enabled=not no_progress)
        try:
            reader = services.MlflowReader(tracking_uri)
            report = services.mlflow_import(
                reader=reader,
                actor=actor,
                selection=services.ImportSelection(experiments=tuple(experiment), models=tuple(model)),
                progress=progress,
            )
        except services.SourceUnreachable as exc:
            raise CommandError(
                f"{exc}\nNothing more was copied; what was copied before is kept. Run the command again once "
                "the server answers."
            ) from None
        except services.SourceMissing as exc:
            raise CommandError(str(exc)) from None
        finally:
            progress.close()
            for name in added:
                os.environ.pop(name, None)
        self._summary(report)

    def _actor(self, username: str):
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None or not user.is_active:
            raise CommandError(
                f"No active Keel user '{username}': name the user the imported records are registered by "
                "(e.g. a pipeline account from `manage.py create_pipeline_user`)."
            )
        missing = [p for p in (roles.LOG_TRAINING, roles.REGISTER_MODELS) if not user.has_perm(p)]
        if missing:
            raise CommandError(
                f"'{username}' cannot register what the import copies (missing {', '.join(missing)}); "
                "use a pipeline account or a reviewer."
            )
        return user

    def _summary(self, report) -> None:
        out = self.stdout.write
        out(f"Imported from {report.source_uri}:")
        for kind in ORDER:
            copied, present = report.copied.get(kind, 0), report.present.get(kind, 0)
            if copied or present:
                out(f"  {kind.replace('_', ' ')}: {copied} copied, {present} already in Keel")
        if not (report.copied or report.present):
            out("  nothing to copy")
        for note in report.notes:
            out(f"  note: {note}")
        if report.unmapped:
            out(f"Not copied ({len(report.unmapped)}):")
            for what, reason in report.unmapped:
                out(f"  - {what}: {reason}")
