"""The Model Registry part of `manage.py import_mlflow` (registry.services.mlflow_import): MLflow 3
logged models with their files, registered models, their versions and aliases.

A version is copied with what it was made from: its source run (copied first if it was not), and
its files, either a logged model's (`models:/m-…`, MLflow 3's `log_model`) or a folder of its run's
artifacts (`runs:/<run>/<path>`, MLflow 2's). Its `model.skops` (or `model.pkl`) then becomes Keel's
artifact through the same format check as an API v1 upload, so the gate can score it. A version
whose files Keel cannot fetch (`s3://…`, a path on someone's disk) is reported, not copied.

Aliases Keel governs (production, shadow, canary) and MLflow's Production stage are copied as
history only: a tag on the version saying where the alias pointed, from which server and when.
Keel's own pointer moves only through a promotion request a second reviewer approves."""

from __future__ import annotations

import re
import tempfile

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import validate_slug
from django.db import transaction
from django.utils.text import slugify

from mlops.errors import ApplicationError, Conflict

from ..models import (
    GOVERNED_ALIASES,
    LoggedModel,
    LoggedModelStatus,
    ModelVersion,
    RegisteredModel,
    RunArtifact,
    TaskType,
)
from . import catalog, logged_models, model_lifecycle
from .mlflow_import import REFUSED, Kind, NotCopied, refusal
from .mlflow_reader import SourceLoggedModel, SourceMissing, SourceModel, SourceVersion

__all__ = ["RegistryImporter", "ALIAS_NOTE_TAG", "STAGE_NOTE_TAG"]

TASK_TYPE_TAG = "keel.task_type"
PROMPT_TAG = "mlflow.prompt.is_prompt"
ALIAS_NOTE_TAG = "keel.mlflow_import.alias.{alias}"
STAGE_NOTE_TAG = "keel.mlflow_import.stage"
# MLflow's deprecated stages as Keel reads them (registry.mlflow.registry_json): Staging is the free
# `staging` alias, Production the governed `production` one; Archived has no Keel meaning.
STAGE_ALIASES = {"Staging": "staging", "Production": "production"}
MODEL_ID_RE = re.compile(r"m-[0-9a-f]{32}")
MODELS_URI_RE = re.compile(r"models:/(m-[0-9a-f]{32})/?")
RUNS_URI_RE = re.compile(r"runs:/([0-9a-f]{32})/?(.*)")
MODEL_FILES = ("model.skops", "model.pkl")


class RegistryImporter:
    def __init__(self, importer):
        self.importer = importer
        self.reader, self.actor, self.report = importer.reader, importer.actor, importer.report

    # --- logged models ----------------------------------------------------------------------------

    def logged_model_by_id(self, model_id: str) -> LoggedModel | None:
        found = self.importer.mapped(Kind.LOGGED_MODEL, model_id)
        if found is not None:
            return found.logged_model
        if (Kind.LOGGED_MODEL, model_id) in self.importer.failed:
            return None
        try:
            source = self.reader.logged_model(model_id)
        except SourceMissing as exc:
            self.importer.failed.add((Kind.LOGGED_MODEL, model_id))
            self.report.cannot(f"logged model {model_id}", str(exc))
            return None
        return self.logged_model(source)

    def logged_model(self, source: SourceLoggedModel) -> LoggedModel | None:
        what = f"logged model {source.model_id} ('{source.name}')"
        found = self.importer.mapped(Kind.LOGGED_MODEL, source.model_id)
        if found is not None:
            self.report.present["logged_models"] += 1
            return found.logged_model
        if (Kind.LOGGED_MODEL, source.model_id) in self.importer.failed:
            return None
        self.importer.failed.add((Kind.LOGGED_MODEL, source.model_id))  # until it is copied below
        if source.status != LoggedModelStatus.READY:
            self.report.cannot(what, f"{source.status} in MLflow (its files never finished uploading)")
            return None
        experiment = self.importer.experiment_by_id(source.experiment_id)
        if experiment is None:
            self.report.cannot(what, "its experiment could not be copied")
            return None
        run = self.importer.run_by_id(source.source_run_id) if source.source_run_id else None
        try:
            with tempfile.TemporaryDirectory(prefix="keel-mlflow-import-") as directory:
                files = self.importer.fetch("logged_model", source.model_id, directory, what)
                with self.importer.stored_or_removed() as stored, transaction.atomic():
                    model_id, note = source.model_id, ""
                    if MODEL_ID_RE.fullmatch(model_id) and not LoggedModel.objects.filter(model_id=model_id).exists():
                        self.importer.sweep(model_id)
                    else:
                        model_id = LoggedModel._meta.get_field("model_id").get_default()
                        note = f"MLflow logged model {source.model_id} is Keel's {model_id} (its id was taken)"
                        self.report.notes.append(f"{what}: {note}.")
                    logged = LoggedModel(
                        model_id=model_id,
                        experiment=experiment,
                        run=run,
                        name=source.name[:250] or "model",
                        model_type=source.model_type[:250],
                        status=LoggedModelStatus.READY,
                        params=source.params,
                        tags=source.tags,
                        created_by=self.actor,
                    )
                    logged.full_clean()
                    logged.save()
                    self.importer.store_files(logged, files, stored)
                    self.importer.record(Kind.LOGGED_MODEL, source.model_id, note, logged_model=logged)
        except REFUSED as exc:
            self.report.cannot(what, refusal(exc))
            return None
        self.importer.failed.discard((Kind.LOGGED_MODEL, source.model_id))
        self.report.copied["logged_models"] += 1
        return logged

    # --- registered models ------------------------------------------------------------------------

    def models(self, sources: list[SourceModel]) -> None:
        for source in sources:
            if source.tags.get(PROMPT_TAG) == "true":
                self.report.cannot(f"prompt '{source.name}'", "Keel keeps no MLflow prompts")
                continue
            model = self.model(source)
            if model is None:
                continue
            versions = self.reader.versions(source.name)
            self.importer.progress.begin(f"versions of '{source.name}'", len(versions))
            copied = {}
            for version in versions:
                copied[version.version] = self.version(model, version)
                self.importer.progress.advance()
            self.aliases(model, source, versions, copied)

    def model(self, source: SourceModel) -> RegisteredModel | None:
        what = f"model '{source.name}'"
        found = self.importer.mapped(Kind.MODEL, source.name)
        if found is not None:
            self.report.present["models"] += 1
            return found.model
        try:
            validate_slug(source.name)
            if len(source.name) > RegisteredModel._meta.get_field("name").max_length:
                raise ApplicationError("too long")
        except (ValidationError, ApplicationError):
            self.report.cannot(what, "its name is not a Keel model name (at most 100 letters, digits, - and _)")
            return None
        task_type = source.tags.get(TASK_TYPE_TAG, TaskType.BINARY)
        if task_type not in TaskType.values:
            self.report.cannot(what, f"its tag {TASK_TYPE_TAG} is not one of {', '.join(TaskType.values)}")
            return None
        try:
            return self._copy_model(source, what, task_type)
        except REFUSED as exc:
            self.report.cannot(what, refusal(exc))
            return None

    def _copy_model(self, source: SourceModel, what: str, task_type: str) -> RegisteredModel:
        with transaction.atomic():
            model, note = RegisteredModel.objects.filter(name=source.name).first(), ""
            if model is None:
                model = catalog.model_create(
                    name=source.name, task_type=task_type, owner=self.actor, description=source.description
                )
            else:
                note = f"adopted Keel's model '{model.name}'; MLflow's versions follow its own"
                self.report.notes.append(f"{what}: {note}.")
            for key, value in source.tags.items():
                if key != TASK_TYPE_TAG:
                    model_lifecycle.model_tag_set(model=model, actor=self.actor, key=key, value=value)
            self.importer.record(Kind.MODEL, source.name, note, model=model)
        self.report.copied["models"] += 1
        return model

    # --- versions ---------------------------------------------------------------------------------

    def version(self, model: RegisteredModel, source: SourceVersion) -> ModelVersion | None:
        what = f"{source.name} v{source.version}"
        found = self.importer.mapped(Kind.VERSION, f"{source.name}/{source.version}")
        if found is not None:
            self.report.present["versions"] += 1
            return found.version
        if source.status != "READY":
            self.report.cannot(what, f"its registration is {source.status} in MLflow")
            return None
        try:
            return self._copy_version(model, source, what)
        except REFUSED as exc:
            self.report.cannot(what, refusal(exc))
            return None

    def _copy_version(self, model: RegisteredModel, source: SourceVersion, what: str) -> ModelVersion:
        run, logged, files_source, files_path = self._made_from(source)
        with transaction.atomic():
            version = catalog.version_create(
                model=model,
                actor=self.actor,
                run=run,
                source=files_source,
                description=source.description,
                tags=source.tags or None,
                logged_model=logged,
            )
            note = ""
            if version.version != source.version:
                note = f"MLflow's v{source.version} is Keel's v{version.version}"
                self.report.notes.append(f"{what}: {note}.")
            # In the same transaction: a version is never left without the artifact it should have.
            why_not = self._attach(version, logged, run, files_path)
            self.importer.record(Kind.VERSION, f"{source.name}/{source.version}", note, version=version)
        if why_not:
            self.report.notes.append(f"{what}: copied; Keel's gate cannot score it yet: {why_not}.")
        if source.stage == "Archived":
            self.report.cannot(f"{what}: stage Archived", "Keel has no archived stage; the version is copied")
        self.report.copied["versions"] += 1
        return version

    def _made_from(self, source: SourceVersion):
        """(Keel run, Keel logged model, source URI for Keel, folder of the run's files) of a version."""
        run = self.importer.run_by_id(source.run_id) if source.run_id else None
        if source.run_id and run is None:
            raise NotCopied(f"its source run {source.run_id} could not be copied")
        # MLflow 3 names the logged model in `model_id`, and its searches sometimes only in the source.
        model_id = source.model_id
        if not model_id and (match := MODELS_URI_RE.fullmatch(source.source)):
            model_id = match.group(1)
        if model_id:
            logged = self.logged_model_by_id(model_id)
            if logged is None:
                raise NotCopied(f"its logged model {model_id} could not be copied")
            return run or logged.run, logged, f"models:/{logged.model_id}", ""
        path = None
        if match := RUNS_URI_RE.fullmatch(source.source):
            if match.group(1) != source.run_id:
                run = self.importer.run_by_id(match.group(1))
            path = match.group(2)
        elif source.run_id and f"/{source.run_id}/artifacts/" in source.source:
            path = source.source.split(f"/{source.run_id}/artifacts/", 1)[1]
        if run is None or path is None:
            raise NotCopied(
                f"its source {source.source!r} is neither a logged model nor an MLflow run's files, "
                "so Keel cannot fetch its files"
            )
        return run, None, f"runs:/{run.run_id}/{path.strip('/')}", path.strip("/")

    def _attach(self, version: ModelVersion, logged, run, path: str) -> str:
        """Keel's own artifact for the gate, through API v1's format check; the reason when it is not."""
        if logged is not None:
            return logged_models.version_attach_logged_model_file(version=version, logged_model=logged)
        wanted = [f"{path}/{name}" if path else name for name in MODEL_FILES]
        found = {a.path: a for a in RunArtifact.objects.filter(run=run, path__in=wanted)}
        stored = next((found[name] for name in wanted if name in found), None)
        if stored is None:
            return f"its files have no {' or '.join(MODEL_FILES)}"
        from .run_artifacts import run_artifact_open

        try:
            with run_artifact_open(stored) as handle, transaction.atomic():
                upload = File(handle, name=stored.path.rsplit("/", 1)[-1])
                upload.size = stored.size
                catalog.artifact_attach(version=version, uploaded=upload, sha256=stored.sha256)
        except (ApplicationError, Conflict) as exc:
            return str(exc)
        return ""

    # --- aliases and stages -----------------------------------------------------------------------

    def aliases(self, model, source: SourceModel, versions: list[SourceVersion], copied: dict) -> None:
        pointers = [(alias, number, "alias") for alias, number in sorted(source.aliases.items())]
        pointers += [(STAGE_ALIASES[v.stage], v.version, "stage") for v in versions if v.stage in STAGE_ALIASES]
        for alias, number, how in pointers:
            key = f"{source.name}@{alias}={number}" if how == "alias" else f"{source.name}:stage={number}"
            if self.importer.mapped(Kind.ALIAS, key) is not None:
                self.report.present["aliases"] += 1
                continue
            said = f"MLflow alias '{alias}'" if how == "alias" else f"MLflow stage '{alias.title()}'"
            version = copied.get(number)
            if version is None:
                self.report.cannot(f"{said} of '{source.name}'", f"it points at v{number}, which was not copied")
                continue
            with transaction.atomic():
                if alias in GOVERNED_ALIASES:
                    self._governed(version, alias, how, said, number)
                elif slugify(alias) != alias or len(alias) > 64:
                    self.report.cannot(f"{said} of '{source.name}'", "not a Keel alias name (lowercase, digits, - _)")
                    continue
                else:
                    catalog.alias_move(
                        model=model,
                        alias=alias,
                        version=version,
                        actor=self.actor,
                        reason=f"{said} pointed at v{number} on {self.importer.source_uri} when imported "
                        f"on {self.importer.today}.",
                    )
                self.importer.record(Kind.ALIAS, key, version=version, model=model)
            self.report.copied["aliases"] += 1

    def _governed(self, version: ModelVersion, alias: str, how: str, said: str, number: int) -> None:
        note = (
            f"{said} pointed here (v{number}) when imported from {self.importer.source_uri} on "
            f"{self.importer.today}. Keel governs '{alias}': it was not set; it moves only through a "
            f"promotion request a second reviewer approves."
        )
        key = ALIAS_NOTE_TAG.format(alias=alias) if how == "alias" else STAGE_NOTE_TAG
        catalog.version_set_tags(version=version, actor=self.actor, tags={key: note})
        self.report.notes.append(
            f"{version}: {said} kept as history only; request a promotion in Keel to make it {alias}."
        )
