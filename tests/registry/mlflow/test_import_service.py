"""A team moves to Keel with its MLflow history: `import_mlflow` copies experiments, runs (params,
full metric histories, tags, files), logged models, registered models, their versions and aliases,
once. A second import adds nothing; one killed mid-way is finished by the next. Aliases Keel governs
are history, never Keel's pointer. What Keel cannot keep is reported. (The fake server here;
test_import_mlflow.py runs the same against a real `mlflow server`.)"""

import hashlib

import pytest

from registry import selectors, services
from registry.models import (
    AliasEvent,
    Experiment,
    LoggedModel,
    MlflowImport,
    ModelAlias,
    ModelVersion,
    ModelVersionTag,
    PromotionRequest,
    RunArtifact,
    RunMetric,
    RunParam,
    RunTag,
    TrainingRun,
)
from registry.services import run_artifacts
from tests.artifacts import skops_artifact

from .import_fakes import URI, FakeMlflow, churn_history, hex_id, with_run

pytestmark = pytest.mark.django_db


def import_all(fake, actor, **selection):
    return services.mlflow_import(reader=fake, actor=actor, selection=services.ImportSelection(**selection))


def counts() -> dict:
    tables = (Experiment, TrainingRun, RunParam, RunMetric, RunTag, RunArtifact, LoggedModel, ModelVersion)
    tables += (ModelVersionTag, ModelAlias, AliasEvent, MlflowImport)
    return {table.__name__: table.objects.count() for table in tables}


def stored_files(media) -> set:
    root = media / "run-artifacts"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_runs_arrive_with_params_full_metric_histories_tags_and_files(pipeline, media):
    fake = churn_history()
    report = import_all(fake, pipeline)

    run = TrainingRun.objects.get(run_id=hex_id(2))  # MLflow's id is kept: runs:/ links still work
    assert run.experiment.name == "churn" and run.name == "gbm-2" and run.status == "FINISHED"
    assert run.started_at.timestamp() * 1000 == fake.runs_[1].start_time
    assert run.ended_at.timestamp() * 1000 == fake.runs_[1].end_time
    assert run.created_by == pipeline
    assert dict(run.params.values_list("key", "value")) == {"depth": "5", "lr": "0.1"}
    auc = list(run.metrics.filter(key="auc").order_by("step").values_list("step", "timestamp", "value"))
    assert auc == [(s, p.timestamp, p.value) for s, p in enumerate(fake.history[hex_id(2), "auc"])]
    assert selectors.latest_tags(run.tags.all())["team"] == "growth"

    files = {a.path: a for a in run.artifacts.all()}
    assert set(files) == {"notes.txt", "plots/roc.csv", "plots/pr/curve.csv", "model/model.skops", "model/MLmodel"}
    wanted = fake.files_["run", hex_id(2)]["plots/pr/curve.csv"]
    with run_artifacts.run_artifact_open(files["plots/pr/curve.csv"]) as handle:
        assert handle.read() == wanted
    assert files["plots/pr/curve.csv"].sha256 == hashlib.sha256(wanted).hexdigest()

    assert report.copied["experiments"] == 2 and report.copied["runs"] == 4
    assert report.copied["metrics"] == 3 * 6 + 1 and report.copied["artifacts"] == 3 * 3 + 2 + 2
    assert MlflowImport.objects.filter(source_uri=URI, kind="run", source_id=hex_id(2), run=run).exists()


def test_versions_come_with_their_run_files_and_become_artifacts_the_gate_can_score(pipeline, media):
    import_all(fake := churn_history(), pipeline)

    v1, v2 = ModelVersion.objects.filter(model__name="churn").order_by("version")
    assert v1.created_by == pipeline and v1.description == "first"
    assert v1.run.run_id == hex_id(1) and selectors.latest_tags(v1.tags.all())["ok"] == "yes"
    logged = v1.logged_model
    assert logged.model_id == fake.logged_[0].model_id and logged.run == v1.run and logged.status == "READY"
    assert v1.source == f"models:/{logged.model_id}"
    assert set(logged.artifacts.values_list("path", flat=True)) == {"MLmodel", "model.skops"}
    assert v1.artifact_sha256 == hashlib.sha256(skops_artifact()).hexdigest() and v1.artifact_format == "skops"

    # An MLflow 2 version: its files are a folder of its run's artifacts.
    assert v2.run.run_id == hex_id(2) and v2.source == f"runs:/{hex_id(2)}/model" and v2.logged_model is None
    assert v2.artifact_sha256 == hashlib.sha256(skops_artifact(1)).hexdigest()
    assert v1.model.description == "Churn scorer" and v1.model.owner == pipeline


def test_a_second_import_adds_nothing(pipeline, media):
    fake = churn_history()
    import_all(fake, pipeline)
    before, files = counts(), stored_files(media)

    again = import_all(fake, pipeline)

    assert counts() == before and stored_files(media) == files
    assert not again.copied and not again.unmapped
    assert again.present["runs"] == 4 and again.present["versions"] == 2 and again.present["aliases"] == 3


def test_an_import_killed_after_two_runs_is_finished_by_the_next_without_duplicates(pipeline, media):
    fake = churn_history()
    with_run(fake, 4)
    fake.fail_on_run = 3

    with pytest.raises(KeyboardInterrupt):
        import_all(fake, pipeline)

    assert set(TrainingRun.objects.values_list("run_id", flat=True)) == {hex_id(1), hex_id(2)}
    assert RunMetric.objects.count() == 2 * 6 and RunArtifact.objects.count() == 3 + 5
    assert len(stored_files(media)) == RunArtifact.objects.count()

    fake.fail_on_run = None
    report = import_all(fake, pipeline)

    assert report.present["runs"] == 2 and report.copied["runs"] == 3
    assert TrainingRun.objects.count() == 5 and RunMetric.objects.count() == 3 * 6 + 1
    assert ModelVersion.objects.count() == 2
    assert len(stored_files(media)) == RunArtifact.objects.count()


def test_a_run_that_fails_while_its_files_are_stored_leaves_no_rows_and_no_bytes(pipeline, media, monkeypatch):
    fake = FakeMlflow(experiments_=churn_history().experiments_[:1])
    run = with_run(churn_history(), 1)
    fake.runs_.append(run)
    fake.files_["run", run.run_id] = {"a.txt": b"a", "b.txt": b"b", "c.txt": b"c"}
    store, calls = run_artifacts.run_artifact_store, []

    def failing_store(**kwargs):
        calls.append(kwargs["path"])
        if len(calls) == 3:
            raise KeyboardInterrupt("killed while storing")
        return store(**kwargs)

    monkeypatch.setattr(run_artifacts, "run_artifact_store", failing_store)
    with pytest.raises(KeyboardInterrupt):
        import_all(fake, pipeline)

    assert not TrainingRun.objects.exists() and not RunArtifact.objects.exists()
    assert stored_files(media) == set()
    assert not MlflowImport.objects.filter(kind="run").exists()


def test_bytes_a_killed_copy_left_behind_are_swept_when_the_run_is_copied_again(pipeline, media):
    # What a SIGKILL between storing a file and committing leaves: bytes in the run's folder, no row.
    leftover = media / "run-artifacts" / hex_id(1) / ("ab" * 16)
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a copy")
    model_leftover = media / "run-artifacts" / ("m-" + hex_id(99)) / ("cd" * 16)
    model_leftover.parent.mkdir(parents=True)
    model_leftover.write_bytes(b"half a model")

    import_all(churn_history(), pipeline)

    assert not leftover.exists() and not model_leftover.exists()
    assert len(stored_files(media)) == RunArtifact.objects.count()


def test_governed_aliases_and_the_production_stage_are_history_never_keels_pointer(pipeline, media):
    fake = churn_history()
    fake.versions_[1] = fake.versions_[1].__class__(**{**fake.versions_[1].__dict__, "stage": "Production"})
    import_all(fake, pipeline)

    v1, v2 = ModelVersion.objects.filter(model__name="churn").order_by("version")
    assert dict(ModelAlias.objects.values_list("name", "version")) == {"champion": v1.pk}
    event = AliasEvent.objects.get(alias="champion")
    assert event.actor == pipeline and event.to_version == v1 and URI in event.reason
    assert not PromotionRequest.objects.exists()

    note = selectors.latest_tags(v1.tags.all())["keel.mlflow_import.alias.production"]
    assert "MLflow alias 'production' pointed here (v1)" in note and URI in note and "was not set" in note
    stage = selectors.latest_tags(v2.tags.all())["keel.mlflow_import.stage"]
    assert "MLflow stage 'Production'" in stage and "promotion request" in stage

    tags = ModelVersionTag.objects.count()
    import_all(fake, pipeline)
    assert ModelVersionTag.objects.count() == tags and not ModelAlias.objects.filter(name="production").exists()


def test_what_keel_cannot_keep_is_reported_with_the_reason(pipeline, media):
    fake = churn_history()
    fake.experiments_[0] = fake.experiments_[0].__class__("1", "churn", {"owner": "growth", "mlflow.note": "x"})
    with_run(fake, 5, deleted=True)
    with_run(fake, 6, status="RUNNING", end_time=None)
    with_run(fake, 7, dataset_inputs=2, tags={"mlflow.parentRunId": hex_id(1)})
    fake.files_["run", hex_id(7)] = {"odd:name.txt": b"x", "fine.txt": b"y"}
    fake.models_.append(fake.models_[0].__class__("Churn Model.v2", aliases={}))
    fake.versions_.append(fake.versions_[1].__class__("churn", 3, "s3://bucket/model", stage="Archived"))
    fake.prompts_ = ["greeting"]
    fake.traces_ = {"2": 4}

    report = import_all(fake, pipeline)
    unmapped = dict(report.unmapped)

    def reason(fragment: str) -> str:
        return next(why for what, why in unmapped.items() if fragment in what)

    assert "Keel keeps no experiment tags" in reason("experiment 'churn' tags owner")
    assert "deleted in MLflow" in reason(f"run {hex_id(5)}")
    assert "still RUNNING" in reason(f"run {hex_id(6)}")
    assert "datasets" in reason("2 dataset input(s)")
    assert "mlflow.parentRunId" in reason(f"parent run {hex_id(1)}")
    assert "colon" in reason("artifact 'odd:name.txt'")
    assert "not a Keel model name" in reason("model 'Churn Model.v2'")
    assert "Keel cannot fetch its files" in reason("churn v3")
    assert "prompts" in reason("prompt 'greeting'")
    assert "traces" in reason("experiment 'fraud': 4 trace(s)")
    assert TrainingRun.objects.get(run_id=hex_id(7)).artifacts.get().path == "fine.txt"
    assert not TrainingRun.objects.filter(run_id__in=[hex_id(5), hex_id(6)]).exists()


def test_an_object_keels_rules_refuse_is_reported_and_the_import_goes_on(pipeline, media):
    fake = churn_history()
    fake.experiments_.append(fake.experiments_[0].__class__("3", "x" * 300))
    fake.runs_.append(
        fake.runs_[-1].__class__(**{**fake.runs_[-1].__dict__, "run_id": hex_id(30), "experiment_id": "3"})
    )
    with_run(fake, 11, params={"k" * 300: "1"})

    report = import_all(fake, pipeline)

    reasons = dict(report.unmapped)
    assert any("at most 200 characters" in why for what, why in reasons.items() if what.startswith("experiment 'xxx"))
    assert any("250 characters" in why for what, why in reasons.items() if hex_id(11) in what)
    assert not TrainingRun.objects.filter(run_id__in=[hex_id(11), hex_id(30)]).exists()
    assert report.copied["runs"] == 4 and report.copied["versions"] == 2


def test_the_git_commit_mlflow_recorded_is_the_runs_commit(pipeline, media):
    fake = churn_history()
    with_run(fake, 8, tags={"mlflow.source.git.commit": "a" * 40})
    with_run(fake, 9, tags={"mlflow.source.git.commit": "not-a-commit"})
    import_all(fake, pipeline, experiments=("churn",))
    assert TrainingRun.objects.get(run_id=hex_id(8)).code_commit == "a" * 40
    assert TrainingRun.objects.get(run_id=hex_id(9)).code_commit == ""


def test_a_run_id_already_taken_in_keel_gets_a_new_one_and_says_so(pipeline, media):
    fake = churn_history()
    experiment = services.experiment_create(name="elsewhere", actor=pipeline)
    TrainingRun.objects.create(run_id=hex_id(3), experiment=experiment, created_by=pipeline)

    report = import_all(fake, pipeline, experiments=("churn",))

    copied = MlflowImport.objects.get(kind="run", source_id=hex_id(3)).run
    assert copied.run_id != hex_id(3) and copied.name == "gbm-3"
    assert any(hex_id(3) in note and copied.run_id in note for note in report.notes)


def test_named_experiments_and_models_narrow_the_import(pipeline, media):
    fake = churn_history()
    import_all(fake, pipeline, models=("churn",))

    # A version brings its source runs (and their experiment) along; nothing else is copied.
    assert set(TrainingRun.objects.values_list("run_id", flat=True)) == {hex_id(1), hex_id(2)}
    assert list(Experiment.objects.values_list("name", flat=True)) == ["churn"]
    assert ModelVersion.objects.count() == 2

    with pytest.raises(services.SourceMissing, match="No experiment named 'nope'"):
        import_all(fake, pipeline, experiments=("nope",))
    with pytest.raises(services.SourceMissing, match="nope"):
        import_all(fake, pipeline, models=("nope",))


def test_an_unreachable_server_is_an_error_before_anything_is_copied(pipeline, media):
    fake = churn_history()
    fake.reachable = False
    with pytest.raises(services.SourceUnreachable, match="connection refused"):
        import_all(fake, pipeline)
    assert not Experiment.objects.exists()


def test_the_admin_shows_where_imported_records_came_from_read_only(pipeline, reviewer, client_as, media):
    from django.urls import reverse

    import_all(churn_history(), pipeline, experiments=("fraud",))
    reviewer.is_staff = reviewer.is_superuser = True
    reviewer.save()
    admin = client_as(reviewer)
    page = admin.get(reverse("admin:registry_mlflowimport_changelist"))
    assert page.status_code == 200 and hex_id(10) in page.content.decode() and URI in page.content.decode()
    assert admin.get(reverse("admin:registry_mlflowimport_add")).status_code == 403
