"""The top reasons a labeller's card shows beside a prediction. The explanations live in the support
app, which this app must not import (support depends on audits, not the other way round): support
registers a provider here when it starts, and the card asks whichever providers are registered."""

import logging
from collections.abc import Callable

__all__ = ["MAX_CARD_REASONS", "card_reasons", "register_reason_provider", "unregister_reason_provider"]

log = logging.getLogger(__name__)

MAX_CARD_REASONS = 5

# A provider takes a PredictionLog and returns its reasons in words, or None when it has none. It must
# answer from what is stored (the card is served while a labeller waits), never start a computation.
ReasonProvider = Callable[[object], list[str] | None]
_providers: list[ReasonProvider] = []


def register_reason_provider(provider: ReasonProvider) -> ReasonProvider:
    """Add a provider (once, however often an app's ready() runs); usable as a decorator."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def unregister_reason_provider(provider: ReasonProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def card_reasons(prediction) -> list[str] | None:
    """The first registered provider's reasons for the prediction (at most MAX_CARD_REASONS), or None
    when no provider has any. A failing provider is logged and skipped: the card still shows."""
    for provider in list(_providers):
        try:
            reasons = provider(prediction)
        except Exception:
            log.exception("The reason provider %r failed for prediction %s", provider, getattr(prediction, "pk", None))
            continue
        if reasons:
            return [str(reason) for reason in reasons][:MAX_CARD_REASONS]
    return None
