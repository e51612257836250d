"""When churn's serving log begins (the `churn` fixture logs one prediction an hour from then)."""

from datetime import UTC, datetime

START = datetime(2026, 11, 2, tzinfo=UTC)
