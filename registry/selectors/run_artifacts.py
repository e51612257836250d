"""A training run's (or a logged model's) artifacts as a tree: one folder's entries (files with
their size, sub-folders), for the MLflow artifact listing and API v1."""

from ..models import LoggedModel, RunArtifact, TrainingRun, artifact_owner

__all__ = ["run_artifact_get", "run_artifact_entries"]


def run_artifact_get(owner: TrainingRun | LoggedModel, path: str) -> RunArtifact | None:
    return RunArtifact.objects.filter(**artifact_owner(owner), path=path).first()


def run_artifact_entries(owner: TrainingRun | LoggedModel, path: str) -> list[dict]:
    """The entries of the folder `path` ("" is the run's root), by name: `{"name", "is_dir", "size"}`
    (size None for a folder). A file's own path answers that one file; nothing there, no entries."""
    if path:
        artifact = run_artifact_get(owner, path)
        if artifact is not None:
            return [{"name": path.rsplit("/", 1)[-1], "is_dir": False, "size": artifact.size}]
    prefix = path + "/" if path else ""
    found = RunArtifact.objects.filter(**artifact_owner(owner))
    if prefix:
        found = found.filter(path__startswith=prefix)
    entries: dict[str, dict] = {}
    for rest, size in found.values_list("path", "size"):
        name, _, deeper = rest[len(prefix) :].partition("/")
        if deeper:
            entries.setdefault(name, {"name": name, "is_dir": True, "size": None})
        else:
            entries[name] = {"name": name, "is_dir": False, "size": size}
    return [entries[name] for name in sorted(entries)]
