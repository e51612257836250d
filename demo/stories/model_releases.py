"""The upsell model's chapter: the model, its four nightly training runs and the versions they
register, then the promotion story replayed through the real workflow (gate, four eyes, rollback)."""

import hashlib
from datetime import UTC, date, datetime

from django.core.files.uploadedfile import SimpleUploadedFile

from demo.signups import generate_signups, minutes_as_hours
from demo.training import TrainedModel, serialise_pickle, train_upsell_model
from registry import services
from registry.models import RegisteredModel, RunStatus, TaskType

from . import soom

# The in-process artifact loader reads joblib; the demo's versions are uploaded as joblib pickles,
# which the model's owner allows on the record.
PICKLE_REASON = "The gate's artifact loader reads joblib pickles of the upsell pipeline."


def upsell_model(*, owner, say) -> RegisteredModel:
    """The upsell model, registered if it is not yet."""
    model = RegisteredModel.objects.filter(name=soom.MODEL_NAME).first()
    if model is None:
        model = services.model_create(
            name=soom.MODEL_NAME, task_type=TaskType.BINARY, owner=owner, description=soom.MODEL_DESCRIPTION
        )
        say(f"Registered model {soom.MODEL_NAME}.")
        services.model_pickle_policy_set(model=model, actor=owner, allowed=True, reason=PICKLE_REASON)
    return model


def train_and_register(model, pipeline, *, say):
    """Generate the signups, train each release on its window and register it as a version.
    Returns the signups, the versions and the trained models, in release order."""
    experiment = services.experiment_get_or_create(name=soom.EXPERIMENT_NAME, actor=pipeline)

    say(f"Generating {soom.SIGNUPS:,} signups ({soom.DATA_START} to {soom.DATA_END})…")
    signups = generate_signups(soom.SIGNUPS, start=soom.DATA_START, end=soom.DATA_END, seed=soom.SEED)
    versions, trained = [], []
    for release in soom.RELEASES:
        frame = signups[signups["signup_date"] <= str(release.window_end)]
        if release.unit_bug:
            frame = minutes_as_hours(frame)
        say(f"Training {release.run_name} on {len(frame):,} signups…")
        result = train_upsell_model(frame, hyperparameters=release.hyperparameters, seed=soom.SEED)
        versions.append(register(model, experiment, pipeline, release, result))
        say(
            f"  v{versions[-1].version}: hold-out ROC AUC {result.metrics['roc_auc']:.3f}, "
            f"threshold {result.decision_threshold:.3f}."
        )
        trained.append(result)
    return signups, versions, trained


def register(model, experiment, pipeline, release: soom.Release, result: TrainedModel):
    """The release's training run (params, learning curve, tags) and the version with its artifact."""
    run = services.run_create(
        experiment=experiment,
        actor=pipeline,
        name=release.run_name,
        code_commit=release.code_commit,
        started_at=release.trained_at,
        tags={
            "mlflow.source.git.commit": release.code_commit,
            "mlflow.user": soom.PIPELINE_USER,
            "trigger": "nightly",
            "dataset": "soom-signups",
        },
    )
    params = {
        **result.hyperparameters,
        "seed": soom.SEED,
        "train_window_start": result.train_window_start,
        "train_window_end": result.train_window_end,
        "holdout_start": result.holdout_start,
        "n_train": result.n_train,
        "n_holdout": result.n_holdout,
    }
    # The learning curve is logged as it would be live: one point per step, a second apart.
    start_ms = int(release.trained_at.timestamp() * 1000)
    history = []
    for step, roc_auc, loss in result.learning_curve:
        at = start_ms + step * 1000
        history += [
            {"key": "holdout_roc_auc", "value": roc_auc, "step": step, "timestamp": at},
            {"key": "holdout_log_loss", "value": loss, "step": step, "timestamp": at},
        ]
    end_ms = start_ms + (result.learning_curve[-1][0] + 5) * 1000
    final = [{"key": key, "value": value, "step": 0, "timestamp": end_ms} for key, value in result.metrics.items()]
    services.run_log(run=run, actor=pipeline, params=[(k, str(v)) for k, v in params.items()], metrics=history + final)
    services.run_set_status(run=run, status=RunStatus.FINISHED, ended_at=datetime.fromtimestamp(end_ms / 1000, tz=UTC))

    window = f"{result.train_window_start:%Y-%m-%d}_{result.train_window_end:%Y-%m-%d}"
    version = services.version_create(
        model=model,
        actor=pipeline,
        run=run,
        description=release.description,
        feature_schema=result.feature_schema,
        decision_threshold=result.decision_threshold,
        train_window_start=result.train_window_start,
        train_window_end=result.train_window_end,
        dataset_uri=f"s3://soom-ml/upsell/signups/{window}.csv",
        dataset_sha256=result.dataset_sha256,
        code_commit=release.code_commit,
        hyperparameters=result.hyperparameters,
        metrics=result.metrics,
        tags={"source": "seed_demo"},
    )
    raw = serialise_pickle(result.pipeline)
    upload = SimpleUploadedFile("model.joblib", raw, content_type="application/octet-stream")
    return services.artifact_attach(version=version, uploaded=upload, sha256=hashlib.sha256(raw).hexdigest())


def govern(model, versions, pipeline, reviewers, october: bytes, *, say):
    """Replay the promotion story through the real workflow: gate, four eyes, rollback."""
    v1, v2, v3, v4 = versions
    reviewer, second_reviewer = reviewers
    services.policy_update(
        model=model,
        actor=reviewer,
        primary_metric="roc_auc",
        max_regression=0.02,
        min_margin_over_baseline=0.05,
        max_flip_rate=0.15,
        slice_columns=["country", "plan"],
        min_slice_rows=40,
        max_slice_gap=0.35,
        staleness_days=60,
    )
    holdout = services.holdout_register(
        model=model,
        actor=pipeline,
        name="October 2026 signups",
        label_column="upgraded_90d",
        uploaded=SimpleUploadedFile("signups-2026-10.csv", october),
        window_start=date(2026, 10, 1),
        window_end=date(2026, 10, 31),
    )

    def request(version, reason):
        created = services.promotion_request_create(version=version, actor=pipeline, reason=reason, holdout=holdout)
        # The gate runs here rather than after the seed's transaction commits, so the story can go on.
        validated = services.promotion_gate_run(promotion_id=created.pk)
        verdict = validated.state.replace("_", " ")
        say(f"Promotion request #{validated.pk}: v{version.version} → production: {verdict}.")
        return validated

    def approve(req, actor, comment):
        services.promotion_approve(promotion=req, actor=actor, comment=comment)
        say(f"  approved by {actor.username}.")

    approve(
        request(v1, "First upsell model; launches the outreach programme."),
        reviewer,
        "Clears the baseline comfortably; threshold as proposed.",
    )
    approve(
        request(v2, "Nightly retrain on January–September signups."),
        second_reviewer,
        "Holds up on October signups; fewer false leads in the slices we watch.",
    )
    services.promotion_rollback(
        model=model,
        to_version=v1,
        actor=reviewer,
        reason="Sales report v2 doubled the outreach list in its first week; back to "
        "v1 while we look at the threshold.",
    )
    say("Production rolled back to v1 by reviewer.")
    request(v3, "Nightly retrain on the new warehouse export.")
    request(v4, "Retrain with meeting durations back in minutes; ready for review.")
