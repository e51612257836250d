"""How soon a killed worker's task is handed out again: after the visibility timeout, at the next
look for such tasks, which KEEL_BROKER_RESTORE_SECONDS makes as frequent as asked."""

import importlib.util
from pathlib import Path

SETTINGS = Path(__file__).resolve().parents[2] / "mlops" / "settings.py"


def settings_with(monkeypatch, **env: str):
    """mlops/settings.py evaluated afresh under `env` (a copy: the live settings stay as they are)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("keel_settings_copy", SETTINGS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_restore_interval_is_kombus_unless_set(monkeypatch):
    monkeypatch.delenv("KEEL_BROKER_RESTORE_SECONDS", raising=False)
    options = settings_with(monkeypatch, KEEL_BROKER_VISIBILITY_TIMEOUT="3600").CELERY_BROKER_TRANSPORT_OPTIONS

    assert options == {"visibility_timeout": 3600}


def test_a_set_restore_interval_looks_that_often_at_every_tick(monkeypatch):
    options = settings_with(
        monkeypatch, KEEL_BROKER_VISIBILITY_TIMEOUT="5", KEEL_BROKER_RESTORE_SECONDS="1"
    ).CELERY_BROKER_TRANSPORT_OPTIONS

    # kombu looks every interval seconds, but scans Redis only every throttle-th look: 1 means every one.
    assert options == {"visibility_timeout": 5, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
