"""Every /api/ error answers in the API's JSON shape, an unexpected exception (a 500) included, DEBUG
on or off; the quick start's SQLite database takes concurrent writes without "database is locked"."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def locked_database(monkeypatch):
    """The model list's query fails as a locked SQLite file made it fail."""
    from registry.apis import catalog

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(catalog, "_models_for_api", locked)


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_api_error_is_a_json_500_with_debug_on_or_off(
    settings, api_as, pipeline, locked_database, debug, caplog
):
    settings.DEBUG = debug
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    client = api_as(pipeline)
    client.raise_request_exception = False

    response = client.get(reverse("api:model-list"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["message"].startswith("Internal server error")
    assert response.json()["detail"] == {}
    assert "database is locked" not in response.content.decode()
    logged = [record for record in caplog.records if record.name == "django.request"]
    assert logged and logged[0].exc_info[1].args == ("database is locked",)


def test_an_error_outside_the_api_views_under_api_is_json(rf):
    from mlops.views import server_error

    response = server_error(rf.get("/api/v1/models/"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"


def test_the_quick_start_sqlite_file_takes_a_write_while_another_is_in_progress(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PYTEST_CURRENT_TEST"}}
    result = subprocess.run(
        [sys.executable, "-m", "tests.mlops.sqlite_writers", str(tmp_path / "keel.sqlite3")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )

    assert result.returncode == 0, result.stderr
    journal_mode, outcome = result.stdout.split()[0], result.stdout.strip().splitlines()[-1]
    assert outcome == "ok 2"
    assert journal_mode == "wal"
