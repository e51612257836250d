"""A fake MLflow server for the import tests: the reader's methods over plain data, so the importer is
tested without a client or a network (tests/registry/mlflow/test_import_mlflow.py runs it against a
real `mlflow server`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from registry.services.mlflow_reader import (
    SourceExperiment,
    SourceFile,
    SourceLoggedModel,
    SourceMetric,
    SourceMissing,
    SourceModel,
    SourceRun,
    SourceUnreachable,
    SourceVersion,
    clean_uri,
)
from tests.artifacts import skops_artifact

URI = "http://mlflow.example:5000"
T0 = 1_767_000_000_000  # ms


def hex_id(n: int) -> str:
    return f"{n:032x}"


@dataclass
class FakeMlflow:
    uri: str = URI
    experiments_: list[SourceExperiment] = field(default_factory=list)
    runs_: list[SourceRun] = field(default_factory=list)
    history: dict[tuple[str, str], list[SourceMetric]] = field(default_factory=dict)
    files_: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    logged_: list[SourceLoggedModel] = field(default_factory=list)
    models_: list[SourceModel] = field(default_factory=list)
    versions_: list[SourceVersion] = field(default_factory=list)
    prompts_: list[str] = field(default_factory=list)
    traces_: dict[str, int] = field(default_factory=dict)
    # Raised when the history of the nth run is read (1-based): a kill in the middle of an import.
    fail_on_run: int | None = None
    failure: type[BaseException] = KeyboardInterrupt
    history_reads: int = 0
    reachable: bool = True

    @property
    def source_uri(self) -> str:
        return clean_uri(self.uri)

    def check(self) -> None:
        if not self.reachable:
            raise SourceUnreachable(f"Reaching the MLflow server failed at {self.source_uri}: connection refused")

    def experiments(self, names=None):
        if not names:
            return list(self.experiments_)
        found = {e.name: e for e in self.experiments_}
        for name in names:
            if name not in found:
                raise SourceMissing(f"No experiment named '{name}' on {self.source_uri}.")
        return [found[n] for n in names]

    def experiment(self, experiment_id):
        return next(e for e in self.experiments_ if e.experiment_id == experiment_id)

    def runs(self, experiment_id, *, deleted=False):
        return [r for r in self.runs_ if r.experiment_id == experiment_id and r.deleted == deleted]

    def run(self, run_id):
        for run in self.runs_:
            if run.run_id == run_id:
                return run
        raise SourceMissing(f"Run '{run_id}' not found")

    def metric_history(self, run_id, key):
        self.history_reads += 1
        index = [r.run_id for r in self.runs_].index(run_id) + 1
        if self.fail_on_run == index:
            raise self.failure(f"killed while reading run {index}")
        return list(self.history.get((run_id, key), []))

    def files(self, kind, owner_id):
        return [SourceFile(path, len(data)) for path, data in sorted(self.files_.get((kind, owner_id), {}).items())]

    def download(self, kind, owner_id, path, directory):
        data = self.files_[kind, owner_id].get(path)
        if data is None:
            raise SourceMissing(f"'{path}' is gone")
        local = os.path.join(directory, os.path.basename(path))
        os.makedirs(directory, exist_ok=True)
        with open(local, "wb") as handle:
            handle.write(data)
        return local

    def logged_model(self, model_id):
        return next(m for m in self.logged_ if m.model_id == model_id)

    def logged_models(self, experiment_id):
        return [m for m in self.logged_ if m.experiment_id == experiment_id]

    def models(self, names=None):
        if not names:
            return list(self.models_)
        found = {m.name: m for m in self.models_}
        for name in names:
            if name not in found:
                raise SourceMissing(f"Model '{name}': Registered Model with name={name} not found")
        return [found[n] for n in names]

    def versions(self, name):
        return sorted((v for v in self.versions_ if v.name == name), key=lambda v: v.version)

    def traces(self, experiment_id):
        return self.traces_.get(experiment_id, 0)

    def prompts(self):
        return list(self.prompts_)


def churn_history() -> FakeMlflow:
    """Two experiments; 'churn' has three finished runs (params, metrics at three steps, tags, a file
    and a folder), one of which logged a skops model that is registered as churn v1 (production and
    champion point at it) and churn v2 (an MLflow 2 `runs:/` source, in stage Staging)."""
    fake = FakeMlflow(
        experiments_=[SourceExperiment("1", "churn"), SourceExperiment("2", "fraud")],
    )
    for n in range(1, 4):
        run_id = hex_id(n)
        fake.runs_.append(
            SourceRun(
                run_id=run_id,
                experiment_id="1",
                name=f"gbm-{n}",
                status="FINISHED",
                start_time=T0 + n * 60_000,
                end_time=T0 + n * 60_000 + 30_000,
                params={"depth": str(n + 3), "lr": "0.1"},
                tags={"team": "growth", "mlflow.runName": f"gbm-{n}"},
                metric_keys=("auc", "loss"),
            )
        )
        fake.history[run_id, "auc"] = [SourceMetric("auc", 0.7 + s / 100, s, T0 + n * 60_000 + s) for s in range(3)]
        fake.history[run_id, "loss"] = [SourceMetric("loss", 0.9 - s / 10, s, T0 + n * 60_000 + s) for s in range(3)]
        fake.files_["run", run_id] = {
            "notes.txt": f"run {n}\n".encode(),
            "plots/roc.csv": b"fpr,tpr\n0,0\n1,1\n",
            "plots/pr/curve.csv": b"p,r\n",
        }
    fake.runs_.append(
        SourceRun(
            run_id=hex_id(10), experiment_id="2", name="fraud-1", status="FINISHED",
            start_time=T0, end_time=T0 + 1000, params={"k": "3"}, metric_keys=("recall",),
        )
    )  # fmt: skip
    fake.history[hex_id(10), "recall"] = [SourceMetric("recall", 0.5, 0, T0)]
    model_id = "m-" + hex_id(99)
    fake.logged_.append(
        SourceLoggedModel(model_id, "1", "model", hex_id(1), "sklearn", "READY", {"C": "1.0"}, {"flavor": "sklearn"})
    )
    fake.files_["logged_model", model_id] = {"MLmodel": b"flavors: {}\n", "model.skops": skops_artifact()}
    fake.files_["run", hex_id(2)]["model/model.skops"] = skops_artifact(1)
    fake.files_["run", hex_id(2)]["model/MLmodel"] = b"flavors: {}\n"
    fake.models_.append(SourceModel("churn", "Churn scorer", {"owner": "growth"}, {"champion": 1, "production": 1}))
    fake.versions_ += [
        SourceVersion("churn", 1, f"models:/{model_id}", hex_id(1), model_id, "first", {"ok": "yes"}),
        SourceVersion("churn", 2, f"runs:/{hex_id(2)}/model", hex_id(2), stage="Staging"),
    ]
    return fake


def with_run(fake: FakeMlflow, n: int, **changes) -> SourceRun:
    run = replace(fake.runs_[0], run_id=hex_id(n), name=f"extra-{n}", **changes)
    fake.runs_.append(run)
    return run
