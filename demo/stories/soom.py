"""The fixed facts of the Soom demo: who works there, the upsell model's releases, how much data each
chapter generates, and the seed that makes every run tell the same story."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from threadpoolctl import threadpool_limits

from demo.training import FEATURES, TrainedModel
from mlops import roles

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
    # They have answered a few items of the relabelling campaign already, so agreement shows.
    "labeller2": (roles.LABELLERS, False),
    "labeller3": (roles.LABELLERS, False),
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


def release(day: date, window_end: date, hyperparameters: dict, code_commit: str, description: str, **extra) -> Release:
    """A nightly run of `upsell-pipeline`: named after its day, started at 02:00 UTC."""
    return Release(
        f"upsell-{day:%Y-%m-%d}",
        window_end,
        hyperparameters,
        code_commit,
        datetime.combine(day, time(2), UTC),
        description,
        **extra,
    )


FIRST_TREES = {"learning_rate": 0.1, "max_iter": 150, "max_depth": 4, "l2_regularization": 0.0}
REGULARISED_TREES = {"learning_rate": 0.05, "max_iter": 250, "max_depth": 3, "l2_regularization": 1.0}
RETUNED_TREES = {"learning_rate": 0.08, "max_iter": 200, "max_depth": 4, "l2_regularization": 0.5}
RELEASES = [
    release(
        date(2026, 7, 2),
        date(2026, 6, 30),
        FIRST_TREES,
        "3f9c2a7e1b4d6f8a0c2e4b6d8f0a1c3e5b7d9f20",
        "First upsell model, trained on January–June 2026 signups.",
    ),
    release(
        date(2026, 10, 2),
        DATA_END,
        REGULARISED_TREES,
        "8e1d4b7a2c5f9e3d6b0a4c8e2f6d1b5a9c3e7f41",
        "Retrained on January–September 2026 signups with shallower, more regularised trees.",
    ),
    release(
        date(2026, 10, 16),
        DATA_END,
        REGULARISED_TREES,
        "c4a8e2f6b0d3a7c1e5f9b3d7a1c5e9f3b7d1a5c9",
        "Retrained on the new warehouse export.",
        unit_bug=True,
    ),
    release(
        date(2026, 10, 30),
        DATA_END,
        RETUNED_TREES,
        "f0b6d2a8c4e1f7b3d9a5c1e7f3b9d5a1c7e3f9b5",
        "Retrained on the new warehouse export with meeting durations converted back to minutes.",
    ),
]
HOLDOUT_SIGNUPS = 2_000  # October 2026: signups none of the versions trained on
BATCH_SIGNUPS = 2_000  # each November batch the audits look at
SERVING_SIGNUPS = 2_800  # a week of logged predictions
SURFACES = {
    "upsell-email": "The weekly upgrade email to free-tier customers.",
    "in-app-upgrade": "The upgrade suggestions inside the Soom app.",
}


def scores(result: TrainedModel, frame) -> list[float]:
    """The model's upgrade probability for each row, as serving computes it."""
    with threadpool_limits(limits=1, user_api="openmp"):
        return [round(float(p), 6) for p in result.pipeline.predict_proba(frame[FEATURES])[:, 1]]
