"""`manage.py import_mlflow`: an existing MLflow history copied into Keel, from a running MLflow
server read through registry.services.mlflow_reader.

Each MLflow object becomes Keel's own record through the catalog services (run_log, run_artifact_store,
version_create, alias_move…), so an imported run is the same kind of record a client logs today.
Every object is copied in one transaction together with its MlflowImport row (where it came from):
a second import finds the row and adds nothing, and an import killed mid-way leaves whole objects
behind and nothing of the one in progress, so the next one finishes the rest. Files are fetched
before the transaction opens (the database waits for no download); bytes stored for a copy that then
fails are removed again.

What Keel does not keep is reported, not forced: MLflow datasets (run inputs), traces, prompts,
experiment tags, deleted and unfinished runs, stages other than Staging and Production. Governed
aliases (production, shadow, canary) and the Production stage are history only: a note on the
version, never Keel's pointer, which moves only through a promotion request."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from mlops.errors import ApplicationError

from ..models import (
    TERMINAL_RUN_STATUSES,
    Experiment,
    MlflowImport,
    MlflowImportKind,
    RunArtifact,
    TrainingRun,
    new_run_id,
)
from . import catalog, run_artifacts
from .mlflow_reader import SourceExperiment, SourceMissing, SourceRun

__all__ = ["ImportReport", "ImportSelection", "mlflow_import"]

Kind = MlflowImportKind
RUN_ID_RE = re.compile(r"[0-9a-f]{32}")
PARENT_TAG = "mlflow.parentRunId"
# MLflow records the script's git commit as a tag; Keel keeps it as the run's commit too.
COMMIT_TAG, COMMIT_RE = "mlflow.source.git.commit", re.compile(r"[0-9a-f]{40}")


class NoProgress:
    def begin(self, what: str, total: int) -> None:
        pass

    def advance(self) -> None:
        pass


@dataclass
class ImportReport:
    """What one import did: counts copied and already present, and what it could not map."""

    source_uri: str
    copied: Counter = field(default_factory=Counter)
    present: Counter = field(default_factory=Counter)
    unmapped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def cannot(self, what: str, reason: str) -> None:
        self.unmapped.append((what, reason))


@dataclass(frozen=True)
class ImportSelection:
    """What to copy: named experiments and models, or (both empty) everything the server has."""

    experiments: tuple[str, ...] = ()
    models: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return not self.experiments and not self.models


class NotCopied(Exception):
    """One object could not be copied (its files cannot be fetched…): reported, the import goes on."""


def refusal(exc: Exception) -> str:
    """Why Keel's own rules refused an object (a service's ApplicationError, a field's validation)."""
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


# What makes one object "not copied" rather than stopping the import: Keel's rules refusing it.
REFUSED = (NotCopied, ApplicationError, ValidationError)


def ms_moment(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


class Importer:
    def __init__(self, *, reader, actor, progress=None):
        self.reader, self.actor = reader, actor
        self.source_uri = reader.source_uri
        self.report = ImportReport(source_uri=self.source_uri)
        self.progress = progress or NoProgress()
        self.today = timezone.now().strftime("%Y-%m-%d %H:%M UTC")
        # What could not be copied in this import, so a version or a logged model that needs it
        # does not try (and report) it again.
        self.failed: set[tuple[str, str]] = set()

    # --- where things came from -------------------------------------------------------------------

    def mapped(self, kind: str, source_id: str) -> MlflowImport | None:
        return MlflowImport.objects.filter(source_uri=self.source_uri, kind=kind, source_id=source_id).first()

    def record(self, kind: str, source_id: str, note: str = "", **target) -> MlflowImport:
        return MlflowImport.objects.create(
            source_uri=self.source_uri, kind=kind, source_id=source_id, note=note, imported_by=self.actor, **target
        )

    # --- experiments ------------------------------------------------------------------------------

    def experiment(self, source: SourceExperiment) -> Experiment | None:
        found = self.mapped(Kind.EXPERIMENT, source.experiment_id)
        if found is not None:
            self.report.present["experiments"] += 1
            return found.experiment
        limit = Experiment._meta.get_field("name").max_length
        if len(source.name) > limit:
            self.report.cannot(
                f"experiment '{source.name[:60]}…'", f"Keel's experiment names are at most {limit} characters"
            )
            return None
        with transaction.atomic():
            experiment = Experiment.objects.filter(name=source.name).first()
            note = ""
            if experiment is None:
                experiment = catalog.experiment_create(name=source.name, actor=self.actor)
            else:
                note = f"adopted Keel's experiment '{experiment.name}' of the same name"
                self.report.notes.append(f"Experiment '{source.name}': {note}.")
            self.record(Kind.EXPERIMENT, source.experiment_id, note, experiment=experiment)
        self.report.copied["experiments"] += 1
        own_tags = sorted(k for k in source.tags if not k.startswith("mlflow."))
        if own_tags:
            self.report.cannot(
                f"experiment '{source.name}' tags {', '.join(own_tags)}", "Keel keeps no experiment tags"
            )
        return experiment

    def experiment_by_id(self, experiment_id: str) -> Experiment | None:
        found = self.mapped(Kind.EXPERIMENT, experiment_id)
        return found.experiment if found else self.experiment(self.reader.experiment(experiment_id))

    # --- runs -------------------------------------------------------------------------------------

    def run_by_id(self, run_id: str) -> TrainingRun | None:
        """The Keel run copied from MLflow run `run_id`, copied now if it was not (a version's source run)."""
        found = self.mapped(Kind.RUN, run_id)
        if found is not None:
            return found.run
        if (Kind.RUN, run_id) in self.failed:
            return None
        try:
            source = self.reader.run(run_id)
        except SourceMissing as exc:
            self.failed.add((Kind.RUN, run_id))
            self.report.cannot(f"run {run_id}", str(exc))
            return None
        experiment = self.experiment_by_id(source.experiment_id)
        if experiment is None:
            self.failed.add((Kind.RUN, run_id))
            self.report.cannot(f"run {run_id}", "its experiment could not be copied")
            return None
        return self.run(source, experiment)

    def run(self, source: SourceRun, experiment: Experiment) -> TrainingRun | None:
        what = f"run {source.run_id} ('{source.name}')" if source.name else f"run {source.run_id}"
        found = self.mapped(Kind.RUN, source.run_id)
        if found is not None:
            self.report.present["runs"] += 1
            return found.run
        if (Kind.RUN, source.run_id) in self.failed:
            return None
        self.failed.add((Kind.RUN, source.run_id))  # until it is copied below
        if source.deleted:
            self.report.cannot(what, "deleted in MLflow; restore it there to bring it along")
            return None
        if source.status not in TERMINAL_RUN_STATUSES:
            self.report.cannot(what, f"still {source.status} in MLflow; it is copied once it has ended")
            return None
        try:
            run = self._copy_run(source, experiment, what)
        except REFUSED as exc:
            self.report.cannot(what, refusal(exc))
            return None
        self.failed.discard((Kind.RUN, source.run_id))
        self.report.copied["runs"] += 1
        if source.dataset_inputs:
            self.report.cannot(f"{what}: {source.dataset_inputs} dataset input(s)", "Keel keeps no MLflow datasets")
        if PARENT_TAG in source.tags:
            self.report.cannot(
                f"{what}: parent run {source.tags[PARENT_TAG]}",
                f"Keel has no nested runs; the link is kept only as the tag {PARENT_TAG}",
            )
        return run

    def _copy_run(self, source: SourceRun, experiment: Experiment, what: str) -> TrainingRun:
        history = []
        for key in source.metric_keys:
            history.extend(self.reader.metric_history(source.run_id, key))
        with tempfile.TemporaryDirectory(prefix="keel-mlflow-import-") as directory:
            files = self.fetch("run", source.run_id, directory, what)
            with self.stored_or_removed() as stored, transaction.atomic():
                run_id, note = source.run_id, ""
                if RUN_ID_RE.fullmatch(run_id) and not TrainingRun.objects.filter(run_id=run_id).exists():
                    self.sweep(run_id)
                else:
                    run_id = new_run_id()
                    note = f"MLflow run {source.run_id} is Keel run {run_id} (its id was taken)"
                    self.report.notes.append(f"{what}: {note}.")
                started = ms_moment(source.start_time) or timezone.now()
                ended = ms_moment(source.end_time) or started
                commit = source.tags.get(COMMIT_TAG, "")
                run = TrainingRun(
                    run_id=run_id,
                    experiment=experiment,
                    name=source.name[:200],
                    code_commit=commit if COMMIT_RE.fullmatch(commit) else "",
                    status=source.status,
                    started_at=started,
                    ended_at=max(ended, started),
                    created_by=self.actor,
                )
                run.full_clean(exclude=["experiment", "created_by"], validate_constraints=False)
                run.save()
                catalog.run_log(
                    run=run,
                    actor=self.actor,
                    params=source.params.items(),
                    metrics=[
                        {"key": p.key, "value": p.value, "step": p.step, "timestamp": p.timestamp} for p in history
                    ],
                    tags=source.tags.items(),
                )
                self.store_files(run, files, stored)
                self.record(Kind.RUN, source.run_id, note, run=run)
        self.report.copied["metrics"] += len(history)
        self.report.copied["params"] += len(source.params)
        return run

    # --- files ------------------------------------------------------------------------------------

    def fetch(self, kind: str, owner_id: str, directory: str, what: str) -> list[tuple[str, str, int, str]]:
        """The owner's files fetched into `directory`: (path, local file, size, sha256) each. A path
        Keel's artifact rule refuses is reported and left out; a file that cannot be fetched means
        the owner is not copied."""
        from ..mlflow.artifact_paths import clean_relative_path
        from ..mlflow.errors import MlflowError

        fetched = []
        try:
            listing = self.reader.files(kind, owner_id)
        except SourceMissing as exc:
            raise NotCopied(f"its artifacts cannot be listed: {exc}") from None
        for index, source_file in enumerate(listing):
            try:
                path = clean_relative_path(source_file.path)
            except MlflowError as exc:
                self.report.cannot(f"{what}: artifact {source_file.path!r}", str(exc))
                continue
            into = os.path.join(directory, str(index))
            os.makedirs(into)
            try:
                local = self.reader.download(kind, owner_id, path, into)
            except SourceMissing as exc:
                raise NotCopied(f"its artifact '{path}' cannot be fetched: {exc}") from None
            digest, size = hashlib.sha256(), 0
            with open(local, "rb") as handle:
                while chunk := handle.read(run_artifacts.CHUNK_BYTES):
                    digest.update(chunk)
                    size += len(chunk)
            if source_file.size is not None and source_file.size != size:
                raise NotCopied(f"its artifact '{path}' came as {size} bytes, MLflow lists {source_file.size}")
            fetched.append((path, local, size, digest.hexdigest()))
        return fetched

    def store_files(self, owner, files, stored: list[str]) -> None:
        for path, local, size, sha256 in files:
            with open(local, "rb") as handle:
                artifact = run_artifacts.run_artifact_store(
                    owner=owner, path=path, read=handle.read, length=size, actor=self.actor
                )
            stored.append(artifact.file.name)
            if artifact.sha256 != sha256:
                raise NotCopied(f"its artifact '{path}' was stored as {artifact.sha256}, fetched as {sha256}")
            self.report.copied["artifacts"] += 1

    def sweep(self, owner_id: str) -> None:
        """Remove the bytes a killed copy of `owner_id` left in its storage folder: the owner is not in
        Keel (its copy never committed), so no row names them. Links are left alone, never followed."""
        folder = Path(default_storage.path(f"{run_artifacts.RUN_ARTIFACTS_DIR}/{owner_id}"))
        if not folder.is_dir() or folder.is_symlink():
            return
        for leftover in folder.iterdir():
            if leftover.is_file() and not leftover.is_symlink():
                with contextlib.suppress(OSError, ApplicationError):
                    run_artifacts.run_artifact_file(f"{run_artifacts.RUN_ARTIFACTS_DIR}/{owner_id}/{leftover.name}")
                    leftover.unlink()

    def stored_or_removed(self):
        """A list the copy adds stored file names to; if the copy fails, those bytes are removed (the
        transaction took their rows back)."""
        importer = self

        class Guard:
            def __enter__(self):
                self.stored, self.counted = [], importer.report.copied["artifacts"]
                return self.stored

            def __exit__(self, kind, exc, tb):
                if kind is not None:
                    importer.report.copied["artifacts"] = self.counted
                    kept = set(RunArtifact.objects.filter(file__in=self.stored).values_list("file", flat=True))
                    for name in self.stored:
                        if name not in kept:
                            with contextlib.suppress(OSError, ApplicationError):
                                run_artifacts.run_artifact_file(name).unlink(missing_ok=True)
                return False

        return Guard()

    # --- the whole import -------------------------------------------------------------------------

    def run_all(self, selection: ImportSelection) -> ImportReport:
        from .mlflow_import_registry import RegistryImporter

        self.reader.check()
        experiments = []
        if selection.everything or selection.experiments:
            experiments = self.reader.experiments(list(selection.experiments) or None)
        models = []
        if selection.everything or selection.models:
            models = self.reader.models(list(selection.models) or None)

        registry = RegistryImporter(self)
        for source in experiments:
            runs = self.reader.runs(source.experiment_id)
            deleted = self.reader.runs(source.experiment_id, deleted=True)
            logged_models = self.reader.logged_models(source.experiment_id)
            if not (runs or deleted or logged_models):
                continue  # an empty experiment (MLflow's untouched "Default") is nothing to bring along
            experiment = self.experiment(source)
            if experiment is None:
                continue
            self.progress.begin(f"runs of '{source.name}'", len(runs))
            for run in runs:
                self.run(run, experiment)
                self.progress.advance()
            for run in deleted:
                self.run(run, experiment)
            for logged in logged_models:
                registry.logged_model(logged)
            if traces := self.reader.traces(source.experiment_id):
                self.report.cannot(f"experiment '{source.name}': {traces} trace(s)", "Keel keeps no MLflow traces")
        registry.models(models)
        if selection.everything:
            for name in self.reader.prompts():
                self.report.cannot(f"prompt '{name}'", "Keel keeps no MLflow prompts")
        return self.report


def mlflow_import(*, reader, actor, selection: ImportSelection | None = None, progress=None) -> ImportReport:
    """Copy what `selection` names from the MLflow server `reader` reads into Keel, as `actor`."""
    return Importer(reader=reader, actor=actor, progress=progress).run_all(selection or ImportSelection())
