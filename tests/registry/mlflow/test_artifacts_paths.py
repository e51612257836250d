"""Artifact paths that tried to escape MLflow's artifact root, one test per published kind of input
(named by its CVE), sent to every artifact route as an attacker sends them on the wire: each is
INVALID_PARAMETER_VALUE (400, never a 5xx), and nothing is read, written or deleted outside the run.
Keel stores bytes under names it picks, so these are refused before any file is touched; a stored
link is refused rather than followed."""

import os

import pytest

from registry.mlflow.artifact_paths import artifact_location, clean_relative_path
from registry.mlflow.errors import MlflowError
from registry.models import RunArtifact

from .conftest import call, error_of, ok

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
SECRET = b"root:x:0:0:root:/root:/bin/bash\n"


@pytest.fixture
def runs(mlflow_api, media, tmp_path):
    """Two runs, each with one file, and a secret file outside Keel's storage."""
    experiment_id = call(mlflow_api, "POST", "experiments/create", {"name": "churn"}).json()["experiment_id"]
    roots = []
    for _ in range(2):
        run_id = call(mlflow_api, "POST", "runs/create", {"experiment_id": experiment_id}).json()["run"]["info"][
            "run_id"
        ]
        roots.append(f"{experiment_id}/{run_id}/artifacts")
        assert ok(mlflow_api.put(f"{ARTIFACTS}/{roots[-1]}/notes.txt", b"notes", content_type="text/plain"))
    (tmp_path / "secret").write_bytes(SECRET)
    return roots


def refused_everywhere(client, wire_path: str) -> None:
    """`wire_path` (as sent on the wire, after `artifacts/` and as the listing's `path`) is refused by
    every route, and no artifact was written or deleted."""
    before = sorted(RunArtifact.objects.values_list("run_id", "path", "sha256"))
    answers = {
        "PUT": client.put(f"{ARTIFACTS}/{wire_path}", b"pwned", content_type="application/octet-stream"),
        "GET": client.get(f"{ARTIFACTS}/{wire_path}"),
        "DELETE": client.delete(f"{ARTIFACTS}/{wire_path}"),
        "list": client.get(f"{ARTIFACTS}?path={wire_path}"),
    }
    wrong = {
        route: (r.status_code, r.content[:200])
        for route, r in answers.items()
        if r.status_code != 400 or r.json().get("error_code") != "INVALID_PARAMETER_VALUE"
    }
    assert not wrong, f"{wire_path!r}: {wrong}"
    assert sorted(RunArtifact.objects.values_list("run_id", "path", "sha256")) == before


def test_cve_2023_1177_dot_dot_segments_up_to_the_file_system(mlflow_api, runs):
    for wire in [
        f"{runs[0]}/../../../../../../etc/passwd",
        f"{runs[0]}/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        f"{runs[0]}/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        f"{runs[0]}/./notes.txt",
    ]:
        refused_everywhere(mlflow_api, wire)


def test_cve_2023_2356_relative_traversal_into_another_runs_artifacts(mlflow_api, runs):
    other_run = runs[1].split("/")[1]
    for wire in [
        f"{runs[0]}/../../{other_run}/artifacts/notes.txt",
        f"{runs[0]}/sub/../../../{other_run}/artifacts",
        # CVE-2023-2780's spelling of the same input: backslash separators.
        f"{runs[0]}/..\\..\\{other_run}\\artifacts\\notes.txt",
        f"{runs[0]}/..%5C..%5C{other_run}%5Cartifacts",
    ]:
        refused_everywhere(mlflow_api, wire)


def test_cve_2023_6831_delete_with_encoded_traversal(mlflow_api, runs):
    other_run = runs[1].split("/")[1]
    response = mlflow_api.delete(f"{ARTIFACTS}/{runs[0]}/..%2F..%2F{other_run}%2Fartifacts")
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
    assert RunArtifact.objects.count() == 2
    refused_everywhere(mlflow_api, f"{runs[0]}/..%2F..%2F{other_run}%2Fartifacts%2Fnotes.txt")


def test_cve_2023_6909_a_fragment_smuggles_the_path(mlflow_api, runs):
    for wire in [f"{runs[0]}/x%23/../../../etc/passwd", f"{runs[0]}%23/../../etc", f"{runs[0]}/notes.txt%23"]:
        refused_everywhere(mlflow_api, wire)


def test_cve_2024_1560_double_url_encoded_dot_dot(mlflow_api, runs):
    for wire in [
        f"{runs[0]}/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        f"{runs[0]}/%25252e%25252e/%25252e%25252e/etc/passwd",  # three times
        f"{runs[0]}/..%252f..%252f",
    ]:
        refused_everywhere(mlflow_api, wire)


def test_cve_2024_1483_local_uris_and_absolute_paths(mlflow_api, runs):
    for wire in [
        "file:///etc/passwd",
        "http:///%23/../../../etc/",
        f"{runs[0]}/file:%2F%2F%2Fetc%2Fpasswd",
        "/etc/passwd",  # the route's `artifacts//etc/passwd`: an absolute POSIX path
        "%2Fetc%2Fpasswd",
        "C:\\Windows\\win.ini",
        "C:/Windows/win.ini",
        "\\\\server\\share\\x",
        "%5C%5Cserver%5Cshare",
    ]:
        refused_everywhere(mlflow_api, wire)


def test_cve_2024_1593_semicolon_path_parameters(mlflow_api, runs):
    for wire in [f"{runs[0]}/..;/..;/..;/etc/passwd", f"{runs[0]}/notes.txt;/../../../etc", f"{runs[0]}%3B/x"]:
        refused_everywhere(mlflow_api, wire)


def test_cve_2024_3848_fragment_bypass_after_the_fix(mlflow_api, runs):
    # The fix for 6909 read '#' once decoded; these arrive as '#' only after a second decoding.
    for wire in [f"{runs[0]}/%2523/../../../etc/passwd", f"{runs[0]}/x%2523%252F..%252F..", f"{runs[0]}/%252523"]:
        refused_everywhere(mlflow_api, wire)


def test_nul_and_control_characters_are_refused(mlflow_api, runs):
    for wire in [f"{runs[0]}/notes.txt%00.png", f"{runs[0]}/notes%2500.txt", f"{runs[0]}/a%0Ab", f"{runs[0]}//x"]:
        refused_everywhere(mlflow_api, wire)


def test_cve_2026_2033_a_stored_symlink_is_never_followed(mlflow_api, runs, media, tmp_path):
    stored = RunArtifact.objects.get(run__run_id=runs[0].split("/")[1])
    on_disk = media / stored.file.name
    on_disk.unlink()
    on_disk.symlink_to(tmp_path / "secret")

    response = mlflow_api.get(f"{ARTIFACTS}/{runs[0]}/notes.txt")
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
    assert SECRET not in response.content
    # Replacing it writes a new file of Keel's own; deleting it removes the link, not its target.
    assert ok(mlflow_api.put(f"{ARTIFACTS}/{runs[0]}/notes.txt", b"new", content_type="text/plain"))
    assert (tmp_path / "secret").read_bytes() == SECRET


def test_cve_2026_2033_a_run_folder_linked_outside_the_storage_is_refused(mlflow_api, runs, media, tmp_path):
    run_id = runs[0].split("/")[1]
    folder = media / "run-artifacts" / run_id
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    folder.symlink_to(outside, target_is_directory=True)

    response = mlflow_api.put(f"{ARTIFACTS}/{runs[0]}/model.pkl", b"evil", content_type="application/octet-stream")
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
    assert list(outside.iterdir()) == []
    assert error_of(mlflow_api.get(f"{ARTIFACTS}/{runs[0]}/notes.txt")) == (400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "raw",
    ["../x", "a/../../x", "%2e%2e/x", "%252e%252e/x", "/x", "C:\\x", "C:/x", "\\\\server", "a\\b", "a#b", "a;b"]
    + ["a\x00b", "a%00b", "a//b", "./a", "", "a/" + "n" * 256],
)
def test_the_path_rule_on_its_own(raw):
    with pytest.raises(MlflowError) as refused:
        clean_relative_path(raw)
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"


def test_ordinary_names_pass_the_rule():
    assert clean_relative_path("model/data/model.skops") == "model/data/model.skops"
    assert clean_relative_path("eval/roc%20curve.png") == "eval/roc curve.png"
    assert clean_relative_path("reports/..hidden/x.txt") == "reports/..hidden/x.txt"
    location = artifact_location(f"7/{'a' * 32}/artifacts/model/MLmodel")
    assert (location.experiment_id, location.run_id, location.path) == (7, "a" * 32, "model/MLmodel")
    assert os.sep == "/"  # the rule is written for POSIX storage
