"""When a live estimate says a model is degraded: only when the whole 95% interval of its accuracy
lies below the policy's minimum, so a model exactly at the minimum is flagged in at most ~2.5% of
campaigns (the one-sided error of the interval)."""

__all__ = ["below_minimum"]


def below_minimum(accuracy_high: float, minimum: float | None) -> bool:
    """True when the interval's upper bound is below the minimum (none set: never)."""
    return minimum is not None and accuracy_high < minimum
