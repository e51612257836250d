"""Two reviewers approve two different candidates for production at the same moment: exactly one wins,
the other is told the evidence is stale. Needs PostgreSQL's row locks, so it runs with the real services."""

import threading
import time

import pytest
from django.db import connection

from mlops.errors import ApplicationError
from registry import selectors, services
from registry.models import AliasEvent, PromotionRequest, PromotionState
from registry.services import promotion as promotion_services
from tests.registry.promotion_helpers import approved, gate_verdict, holdout_for, model_with_versions

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_two_concurrent_approvals_cannot_both_win(
    integration_services, reviewer, second_reviewer, pipeline, settings, tmp_path, monkeypatch
):
    settings.MEDIA_ROOT = tmp_path
    # Hold each approval for a moment between its checks and the alias write, so both approvals are
    # in flight together every round; without the lock both would pass their checks and both win.
    real_alias_point = promotion_services.alias_point

    def slow_alias_point(**kwargs):
        time.sleep(0.3)
        return real_alias_point(**kwargs)

    monkeypatch.setattr(promotion_services, "alias_point", slow_alias_point)
    model = model_with_versions(count=3)
    holdout = holdout_for(model, pipeline)
    approved(
        services.promotion_request_create(
            version=model.versions.get(version=1), actor=pipeline, reason="v1", holdout=holdout
        ),
        reviewer,
    )
    candidates = []
    for number in (2, 3):
        request = services.promotion_request_create(
            version=model.versions.get(version=number), actor=pipeline, reason=f"v{number}", holdout=holdout
        )
        gate_verdict(request)
        candidates.append(request)

    for attempt in range(3):
        if attempt:
            # Put production back to v1 and re-open both requests for another round.
            services.promotion_rollback(
                model=model, to_version=model.versions.get(version=1), actor=reviewer, reason="next round"
            )
            for still_open in PromotionRequest.objects.filter(state=PromotionState.AWAITING_APPROVAL):
                services.promotion_cancel(promotion=still_open, actor=pipeline, reason="stale")
            candidates = []
            for number in (2, 3):
                request = services.promotion_request_create(
                    version=model.versions.get(version=number),
                    actor=pipeline,
                    reason=f"round {attempt}",
                    holdout=holdout,
                )
                gate_verdict(request)
                candidates.append(request)

        barrier = threading.Barrier(2)
        outcomes: dict[int, str] = {}

        def approve(request, actor, barrier, outcomes):
            try:
                barrier.wait(timeout=10)
                services.promotion_approve(promotion=request, actor=actor, comment="ship")
                outcomes[request.version.version] = "approved"
            except ApplicationError as exc:
                outcomes[request.version.version] = exc.message
            finally:
                connection.close()

        threads = [
            threading.Thread(target=approve, args=(candidates[0], reviewer, barrier, outcomes)),
            threading.Thread(target=approve, args=(candidates[1], second_reviewer, barrier, outcomes)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        winners = [number for number, outcome in outcomes.items() if outcome == "approved"]
        assert len(winners) == 1, outcomes
        loser = ({2, 3} - set(winners)).pop()
        assert "evidence is stale" in outcomes[loser]
        assert selectors.alias_map(model)["production"].version == winners[0]
        states = dict(
            PromotionRequest.objects.filter(pk__in=[c.pk for c in candidates]).values_list("version__version", "state")
        )
        assert states == {winners[0]: PromotionState.APPROVED, loser: PromotionState.AWAITING_APPROVAL}
    # Every production move is in the history: v1, then per round a winner (and a rollback between rounds).
    assert AliasEvent.objects.filter(alias="production").count() == 1 + 3 + 2
