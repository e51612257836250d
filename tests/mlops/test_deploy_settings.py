"""Production settings pass Django's deployment checklist and refuse to run on a missing key."""

import importlib
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parents[2]


def production_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "PYTEST_CURRENT_TEST"}}
    env.update(DJANGO_SETTINGS_MODULE="mlops.settings_production", PYTHONDONTWRITEBYTECODE="1", **overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_check_deploy_has_no_warnings():
    secret_key = secrets.token_hex(32)
    assert len(secret_key) == 64
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(SECRET_KEY=secret_key))

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNING" not in output and "?: (security." not in output, output


def test_production_refuses_to_start_without_secret_key():
    result = manage("check", env=production_env())

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("value", [None, "", "too-short-to-be-a-real-key"])
def test_production_settings_raise_on_a_missing_or_weak_key(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("SECRET_KEY", value)
    monkeypatch.delitem(sys.modules, "mlops.settings_production", raising=False)

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        importlib.import_module("mlops.settings_production")


LOW_ENTROPY_KEYS = {
    "one character repeated": "a" * 50,
    "four characters repeated": "abcd" * 20,
    "Django's insecure placeholder": "django-insecure-" + secrets.token_urlsafe(48),
}


@pytest.mark.parametrize("value", LOW_ENTROPY_KEYS.values(), ids=LOW_ENTROPY_KEYS.keys())
def test_production_settings_refuse_a_low_entropy_key(monkeypatch, value):
    monkeypatch.setenv("SECRET_KEY", value)
    monkeypatch.delitem(sys.modules, "mlops.settings_production", raising=False)

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY") as refused:
        importlib.import_module("mlops.settings_production")
    assert "get_random_secret_key" in str(refused.value)


def test_production_refuses_to_start_on_fifty_as():
    result = manage("check", env=production_env(SECRET_KEY="a" * 50))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_production_settings_accept_a_generated_key(monkeypatch):
    from django.core.management.utils import get_random_secret_key

    monkeypatch.setenv("SECRET_KEY", get_random_secret_key())
    monkeypatch.delitem(sys.modules, "mlops.settings_production", raising=False)

    assert importlib.import_module("mlops.settings_production").DEBUG is False
