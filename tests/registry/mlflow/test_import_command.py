"""`manage.py import_mlflow` as an operator runs it: progress on stderr, a summary on stdout of what
was copied, what was already there and what could not be mapped; a clear error and a non-zero exit
when the server cannot be reached, a named experiment or model does not exist, or `--as` names
nobody who may register things."""

import io
import os
import socket

import pytest
from django.core.management import CommandError, call_command

from registry import services
from registry.models import TrainingRun

from .import_fakes import URI, churn_history, with_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(monkeypatch, media):
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    server = churn_history()
    monkeypatch.setattr(services, "MlflowReader", lambda uri: server)
    return server


def run_command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_mlflow", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_summary_says_what_was_copied_present_and_not_mapped(fake, pipeline):
    with_run(fake, 5, deleted=True)
    out, err = run_command("--tracking-uri", URI, "--as", pipeline.username)

    assert f"Imported from {URI}:" in out
    assert "runs: 4 copied, 0 already in Keel" in out and "versions: 2 copied" in out
    assert "aliases: 3 copied" in out
    assert "Not copied (1):" in out and "deleted in MLflow" in out
    assert "kept as history only" in out
    assert "runs of 'churn'" in err and "3/3" in err  # the progress bar, on stderr

    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # the client's defaults were taken back

    again, _ = run_command("--tracking-uri", URI, "--as", pipeline.username, "--no-progress")
    assert "runs: 0 copied, 4 already in Keel" in again and "versions: 0 copied, 2 already in Keel" in again
    assert TrainingRun.objects.count() == 4


def test_only_the_named_experiment_is_copied(fake, pipeline):
    out, _ = run_command("--tracking-uri", URI, "--experiment", "fraud", "--as", pipeline.username)
    assert "runs: 1 copied" in out and "versions" not in out
    assert list(TrainingRun.objects.values_list("experiment__name", flat=True)) == ["fraud"]


def test_a_named_experiment_or_model_that_mlflow_lacks_is_an_error(fake, pipeline):
    with pytest.raises(CommandError, match="No experiment named 'churnn'"):
        run_command("--tracking-uri", URI, "--experiment", "churnn", "--as", pipeline.username)
    with pytest.raises(CommandError, match="fraud-model"):
        run_command("--tracking-uri", URI, "--model", "fraud-model", "--as", pipeline.username)
    assert not TrainingRun.objects.exists()


def test_the_registrar_must_be_a_keel_user_who_may_register(fake, pipeline, agent):
    with pytest.raises(CommandError, match="No active Keel user 'nobody'"):
        run_command("--tracking-uri", URI, "--as", "nobody")
    with pytest.raises(CommandError, match="cannot register"):
        run_command("--tracking-uri", URI, "--as", agent.username)


def test_an_unreachable_server_is_a_clear_error(pipeline, media, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(CommandError, match=f"127.0.0.1:{port}") as error:
        run_command("--tracking-uri", f"http://user:secret@127.0.0.1:{port}/", "--as", pipeline.username)
    assert "secret" not in str(error.value) and "Run the command again" in str(error.value)

    with pytest.raises(CommandError, match="not an http"):
        run_command("--tracking-uri", "file:///tmp/mlruns", "--as", pipeline.username)
