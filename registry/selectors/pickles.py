"""Whether a model may hold pickle artifacts: the newest of its reviewers' recorded decisions."""

from ..models import ArtifactFormat, ModelVersion, PickleAllowance, RegisteredModel

__all__ = [
    "pickle_allowance",
    "pickle_allowance_history",
    "pickles_allowed",
    "artifact_load_refusal",
]


def pickle_allowance(model: RegisteredModel) -> PickleAllowance | None:
    """The decision in force: the newest row, or None when no reviewer ever decided."""
    return model.pickle_allowances.select_related("actor").order_by("-created_at", "-id").first()


def pickle_allowance_history(model: RegisteredModel):
    return model.pickle_allowances.select_related("actor").order_by("-created_at", "-id")


def pickles_allowed(model: RegisteredModel) -> bool:
    current = pickle_allowance(model)
    return bool(current and current.allowed)


def artifact_load_refusal(version: ModelVersion) -> str | None:
    """Why this version's artifact must not be loaded now, or None: a pickle whose model no longer
    allows pickles (a skops artifact's types were checked at upload)."""
    if version.artifact_format != ArtifactFormat.PICKLE or pickles_allowed(version.model):
        return None
    current = pickle_allowance(version.model)
    if current is None:
        return f"{version}'s artifact is a pickle and no reviewer has allowed pickles for '{version.model.name}'."
    return (
        f"{version}'s artifact is a pickle and {current.actor} stopped allowing pickles for "
        f"'{version.model.name}' on {current.created_at:%Y-%m-%d %H:%M %Z}: {current.reason}"
    )
