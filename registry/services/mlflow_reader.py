"""What `manage.py import_mlflow` reads from a running MLflow server, through the `mlflow` client,
as plain values (the importer, registry.services.mlflow_import, never sees a client object, so its
tests hand it a fake reader with the same methods).

Artifacts are listed and fetched through the artifact repository of the run's (or logged model's)
own artifact location, resolved against this server, never through MLflow's `runs:/` repository:
that one mixes a run's logged-model files into its listing, and the client's repository cache is
keyed by run id only, which a copy that keeps the id would share."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "SourceUnreachable",
    "SourceMissing",
    "SourceExperiment",
    "SourceRun",
    "SourceMetric",
    "SourceFile",
    "SourceLoggedModel",
    "SourceModel",
    "SourceVersion",
    "clean_uri",
    "MlflowReader",
]

PAGE = 1000


class SourceUnreachable(Exception):
    """The MLflow server does not answer (or answers something that is not MLflow)."""


class SourceMissing(Exception):
    """An experiment or model named on the command line does not exist on the MLflow server."""


@dataclass(frozen=True)
class SourceExperiment:
    experiment_id: str
    name: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceRun:
    run_id: str
    experiment_id: str
    name: str
    status: str
    start_time: int  # ms since the epoch
    end_time: int | None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metric_keys: tuple[str, ...] = ()
    dataset_inputs: int = 0
    deleted: bool = False


@dataclass(frozen=True)
class SourceMetric:
    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True)
class SourceFile:
    path: str
    size: int | None


@dataclass(frozen=True)
class SourceLoggedModel:
    model_id: str
    experiment_id: str
    name: str
    source_run_id: str
    model_type: str
    status: str  # READY, PENDING, UPLOAD_FAILED (MLflow's without its LOGGED_MODEL_ prefix)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceModel:
    name: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)  # alias -> version number


@dataclass(frozen=True)
class SourceVersion:
    name: str
    version: int
    source: str
    run_id: str = ""
    model_id: str = ""
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    stage: str = "None"
    status: str = "READY"


def clean_uri(uri: str) -> str:
    """The tracking URI as Keel records it: no user name or password, no trailing slash."""
    parts = urlsplit((uri or "").strip())
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme.lower(), netloc.lower(), parts.path.rstrip("/"), parts.query, ""))


class MlflowReader:
    """The MLflow server at `uri`, read through `mlflow.MlflowClient`."""

    def __init__(self, uri: str):
        self.uri = uri
        self.source_uri = clean_uri(uri)
        if urlsplit(self.source_uri).scheme not in ("http", "https"):
            raise SourceUnreachable(f"'{self.source_uri}' is not an http(s) URI of a running MLflow server.")
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self._repos = {}

    def _call(self, what: str, call, *args, **kwargs):
        from mlflow.exceptions import MlflowException

        try:
            return call(*args, **kwargs)
        except MlflowException as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                raise SourceMissing(self._scrub(f"{what}: {exc.message}")) from None
            raise SourceUnreachable(self._scrub(f"{what} failed at {self.source_uri}: {exc.message}")) from None
        except OSError as exc:
            raise SourceUnreachable(self._scrub(f"{what} failed at {self.source_uri}: {exc}")) from None

    def _scrub(self, message: str) -> str:
        # The client's messages quote the URL it called, credentials included: never repeat those.
        netloc = urlsplit(self.uri).netloc
        if "@" in netloc:
            message = message.replace(netloc.rsplit("@", 1)[0] + "@", "")
        return message

    def _pages(self, what: str, call, **kwargs) -> list:
        found, token = [], None
        while True:
            page = self._call(what, call, page_token=token, **kwargs)
            found.extend(page)
            token = page.token
            if not token:
                return found

    def check(self) -> None:
        self._call("Reaching the MLflow server", self.client.search_experiments, max_results=1)

    # --- tracking ---------------------------------------------------------------------------------

    def experiments(self, names: list[str] | None = None) -> list[SourceExperiment]:
        if names:
            found = []
            for name in names:
                experiment = self._call(f"Experiment '{name}'", self.client.get_experiment_by_name, name)
                if experiment is None or experiment.lifecycle_stage != "active":
                    raise SourceMissing(f"No experiment named '{name}' on {self.source_uri}.")
                found.append(experiment)
        else:
            found = self._pages("Listing experiments", self.client.search_experiments, max_results=PAGE)
        return [SourceExperiment(e.experiment_id, e.name, dict(e.tags or {})) for e in found]

    def experiment(self, experiment_id: str) -> SourceExperiment:
        e = self._call(f"Experiment {experiment_id}", self.client.get_experiment, experiment_id)
        return SourceExperiment(e.experiment_id, e.name, dict(e.tags or {}))

    def _run(self, run) -> SourceRun:
        from mlflow.entities import LifecycleStage

        inputs = getattr(run, "inputs", None)
        return SourceRun(
            run_id=run.info.run_id,
            experiment_id=run.info.experiment_id,
            name=run.info.run_name or "",
            status=run.info.status,
            start_time=run.info.start_time or 0,
            end_time=run.info.end_time,
            params=dict(run.data.params),
            tags=dict(run.data.tags),
            metric_keys=tuple(sorted(run.data.metrics)),
            dataset_inputs=len(getattr(inputs, "dataset_inputs", None) or []),
            deleted=run.info.lifecycle_stage == LifecycleStage.DELETED,
        )

    def runs(self, experiment_id: str, *, deleted: bool = False) -> list[SourceRun]:
        from mlflow.entities import ViewType

        view = ViewType.DELETED_ONLY if deleted else ViewType.ACTIVE_ONLY
        found = self._pages(
            "Listing runs",
            self.client.search_runs,
            experiment_ids=[experiment_id],
            run_view_type=view,
            max_results=PAGE,
            order_by=["attributes.start_time ASC"],
        )
        return [self._run(r) for r in found]

    def run(self, run_id: str) -> SourceRun:
        return self._run(self._call(f"Run {run_id}", self.client.get_run, run_id))

    def metric_history(self, run_id: str, key: str) -> list[SourceMetric]:
        points = self._call(f"Metric '{key}' of run {run_id}", self.client.get_metric_history, run_id, key)
        return [SourceMetric(m.key, m.value, m.step or 0, m.timestamp) for m in points]

    # --- artifacts --------------------------------------------------------------------------------

    def _repo(self, kind: str, owner_id: str):
        if (kind, owner_id) not in self._repos:
            from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

            if kind == "run":
                location = self._call(f"Run {owner_id}", self.client.get_run, owner_id).info.artifact_uri
            else:
                model = self._call(f"Logged model {owner_id}", self.client.get_logged_model, owner_id)
                location = model.artifact_location
            self._repos[kind, owner_id] = get_artifact_repository(location, tracking_uri=self.uri)
        return self._repos[kind, owner_id]

    def files(self, kind: str, owner_id: str) -> list[SourceFile]:
        """Every file under the owner's artifact root (`kind`: "run" or "logged_model"), folders walked."""
        repo, found, folders = self._repo(kind, owner_id), [], [None]
        while folders:
            folder = folders.pop()
            for info in self._call(f"Listing the artifacts of {owner_id}", repo.list_artifacts, folder):
                if info.is_dir:
                    folders.append(info.path)
                else:
                    found.append(SourceFile(info.path, info.file_size))
        return sorted(found, key=lambda f: f.path)

    def download(self, kind: str, owner_id: str, path: str, directory: str) -> str:
        """The file at `path`, fetched into `directory`; its local path."""
        repo = self._repo(kind, owner_id)
        local = self._call(f"Fetching '{path}' of {owner_id}", repo.download_artifacts, path, dst_path=directory)
        if not os.path.isfile(local):
            raise SourceUnreachable(f"Fetching '{path}' of {owner_id} gave no file.")
        return local

    # --- logged models ----------------------------------------------------------------------------

    def _logged(self, m) -> SourceLoggedModel:
        status = getattr(m.status, "name", None) or str(m.status)
        return SourceLoggedModel(
            model_id=m.model_id,
            experiment_id=m.experiment_id,
            name=m.name,
            source_run_id=m.source_run_id or "",
            model_type=m.model_type or "",
            status=status.removeprefix("LOGGED_MODEL_"),
            params=dict(m.params or {}),
            tags=dict(m.tags or {}),
        )

    def logged_model(self, model_id: str) -> SourceLoggedModel:
        return self._logged(self._call(f"Logged model {model_id}", self.client.get_logged_model, model_id))

    def logged_models(self, experiment_id: str) -> list[SourceLoggedModel]:
        found = self._pages(
            "Listing logged models", self.client.search_logged_models, experiment_ids=[experiment_id], max_results=100
        )
        return [self._logged(m) for m in found]

    # --- registry ---------------------------------------------------------------------------------

    def _model(self, m) -> SourceModel:
        aliases = {alias: int(version) for alias, version in (m.aliases or {}).items()}
        return SourceModel(m.name, m.description or "", dict(m.tags or {}), aliases)

    def models(self, names: list[str] | None = None) -> list[SourceModel]:
        if names:
            return [self._model(self._call(f"Model '{n}'", self.client.get_registered_model, n)) for n in names]
        found = self._pages("Listing registered models", self.client.search_registered_models, max_results=PAGE)
        return [self._model(m) for m in found]

    def versions(self, name: str) -> list[SourceVersion]:
        escaped = name.replace("'", "\\'")
        found = self._pages(
            f"Listing the versions of '{name}'",
            self.client.search_model_versions,
            filter_string=f"name = '{escaped}'",
            max_results=PAGE,
        )
        versions = [
            SourceVersion(
                name=v.name,
                version=int(v.version),
                source=v.source or "",
                run_id=v.run_id or "",
                model_id=getattr(v, "model_id", None) or "",
                description=v.description or "",
                tags=dict(v.tags or {}),
                stage=v.current_stage or "None",
                status=v.status or "READY",
            )
            for v in found
        ]
        return sorted(versions, key=lambda v: v.version)

    def traces(self, experiment_id: str) -> int:
        """How many traces (GenAI tracing) the experiment has, which Keel does not keep."""
        try:
            return len(
                self._pages(
                    "Listing traces",
                    self.client.search_traces,
                    locations=[experiment_id],
                    max_results=500,
                    include_spans=False,
                )
            )
        except (SourceUnreachable, SourceMissing):  # a server without tracing: nothing to report
            return 0

    def prompts(self) -> list[str]:
        """The names of MLflow prompts (registered models tagged as prompts), which Keel does not keep."""
        try:
            return sorted(p.name for p in self.client.search_prompts(max_results=PAGE))
        except Exception:  # a server without the prompt registry: nothing to report
            return []
