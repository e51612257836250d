"""The isolated scorer (mlops.sandbox): an artifact is loaded and run in a child process that holds no
secrets, cannot write files, reach the network or read outside the code, and is bounded in memory,
CPU and wall time; whatever goes wrong comes back as a SandboxError naming the subject and the limit."""

import socket

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlops.sandbox import Limits, SandboxError, Scorer, WarmPool, open_model, runner
from tests.mlops import hostile_models as hostile

SECRET = "s3cret-settings-key-that-must-never-leak"
ROWS = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 3})


@pytest.fixture(scope="module")
def model():
    return LogisticRegression().fit(ROWS, (ROWS["a"] > 20).astype(int))


@pytest.fixture
def secret_env(monkeypatch):
    """The calling process holds a secret, as the web and worker processes do."""
    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.setenv("DATABASE_URL", f"postgres://keel:{SECRET}@db/keel")


@pytest.fixture(params=["namespaces", "audit hook only"])
def isolation(request, monkeypatch):
    """Both ways the scorer can run: in its own user and network namespace when the machine allows
    it, and with the audit hook alone."""
    if request.param == "audit hook only":
        monkeypatch.setattr(runner, "network_isolation", lambda: False)
    elif not runner.network_isolation():
        pytest.skip("this machine cannot unshare user and network namespaces")
    return request.param


def scored(raw, what="the candidate v3", limits=None, task_type="binary_classification"):
    with open_model(raw, "pickle", [], limits or Limits(), what) as scorer:
        return scorer.describe(), scorer.scores(ROWS, task_type)


def test_a_model_scores_in_the_scorer_as_it_does_in_process(model):
    described, (scores, classes) = scored(hostile.dumped(model))
    assert described == {
        "type": "LogisticRegression",
        "final_type": "LogisticRegression",
        "classes": [0, 1],
        "has_predict_proba": True,
    }
    assert classes is None and np.allclose(scores, model.predict_proba(ROWS)[:, 1], atol=1e-12, rtol=1e-9)


def test_a_payload_cannot_write_a_file(model, tmp_path, isolation):
    target = tmp_path / "written-by-the-payload"
    with pytest.raises(SandboxError, match="(?s)The candidate v3's artifact raised ScorerRefused: .*writing files"):
        scored(hostile.dumped(hostile.writes_file(target, model)))
    assert not target.exists()


def test_a_payload_cannot_open_a_socket(model, isolation):
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        with pytest.raises(SandboxError, match="raised"):
            scored(hostile.dumped(hostile.connects(server.getsockname()[1], model)))
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody connected


def test_a_payload_reads_no_secret_from_its_environment_or_its_parents(model, secret_env, isolation):
    with pytest.raises(SandboxError) as raised:
        scored(hostile.dumped(hostile.reads_secret(model)))
    assert "does not allow reading '/proc/" in raised.value.reason and SECRET not in raised.value.reason
    with open_model(hostile.dumped(hostile.ReturnsSecret()), "pickle", [], Limits(), "v1") as scorer:
        assert scorer.describe()["classes"] == [None, 1]


def test_a_payload_cannot_read_the_database_file(model, tmp_path, isolation):
    database = tmp_path / "keel.sqlite3"
    database.write_bytes(b"SQLite format 3\x00" + SECRET.encode())
    with pytest.raises(SandboxError) as raised:
        scored(hostile.dumped(hostile.reads_file(database, model)))
    assert f"does not allow reading '{database}'" in raised.value.reason and SECRET not in raised.value.reason


def test_a_memory_hungry_model_fails_with_its_memory_limit_named():
    exceeded = r"^The candidate v3's artifact exceeded its 2 GiB memory limit while scoring\.$"
    with pytest.raises(SandboxError, match=exceeded):
        scored(hostile.dumped(hostile.Hungry()))


def test_a_sleeping_model_fails_with_its_wall_limit_named():
    with pytest.raises(SandboxError, match=r"^The production v2's artifact took longer than 1 s while scoring\.$"):
        scored(hostile.dumped(hostile.Sleepy()), what="the production v2", limits=Limits(wall_seconds=1))


def test_a_spinning_model_fails_with_its_cpu_limit_named():
    with pytest.raises(SandboxError, match=r"used more than 1 s of CPU while scoring\.$"):
        scored(hostile.dumped(hostile.Spinning()), limits=Limits(cpu_seconds=1, wall_seconds=60))


def test_a_crashing_model_fails_with_its_signal_named():
    with pytest.raises(SandboxError, match=r"crashed \(signal 11\) while scoring\.$"):
        scored(hostile.dumped(hostile.Crashing()))


def test_the_scorer_starts_with_an_environment_free_of_secrets(secret_env):
    environment = runner._environment("/tmp/x")
    assert not [name for name in environment if name.startswith(("KEEL_", "DATABASE", "SECRET", "REDIS", "CELERY"))]
    assert environment["OMP_NUM_THREADS"] == "1" and SECRET not in repr(environment)


def test_only_allowlisted_operations_can_be_called(model):
    with (
        open_model(hostile.dumped(model), "pickle", [], Limits(), "v1") as scorer,
        pytest.raises(ValueError, match="not an operation"),
    ):
        scorer.call("os:system", command="true")


def test_a_warm_pool_keeps_one_child_per_artifact_and_replaces_a_dead_one(model):
    clock = [0.0]
    pool = WarmPool(maxsize=1, idle_seconds=60, clock=lambda: clock[0])
    started = []

    def start():
        scorer = Scorer(hostile.dumped(model), "pickle", [], Limits(), "v1")
        started.append(scorer)
        return scorer

    try:
        with pool.scorer("a", start) as first:
            pass
        with pool.scorer("a", start) as again:
            assert again is first and pool.holds("a")
        first.close()  # it hit a limit
        with pool.scorer("a", start) as replaced:
            assert replaced is not first and replaced.alive
        with pool.scorer("b", start):
            pass
        assert not pool.holds("a") and not started[1].alive  # the LRU keeps one
        clock[0] = 120.0
        with pool.scorer("c", start):
            pass
        assert not started[2].alive  # idle too long
    finally:
        pool.close()
    assert not any(scorer.alive for scorer in started)
