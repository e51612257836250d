"""Every page shows a moment the same way, with its zone: the active time zone, by its abbreviation."""

from datetime import UTC, datetime

from django.template import Context, Template
from django.utils import timezone

MOMENT = datetime(2026, 12, 6, 14, 50, tzinfo=UTC)


def shown(value) -> str:
    return Template("{% load keel %}{{ value|when }}").render(Context({"value": value}))


def test_a_moment_carries_its_zone():
    assert shown(MOMENT) == "2026-12-06 14:50 UTC"


def test_a_moment_is_shown_in_the_active_zone():
    with timezone.override("Europe/Paris"):
        assert shown(MOMENT) == "2026-12-06 15:50 CET"


def test_a_missing_moment_is_a_dash():
    assert shown(None) == "—"
