"""Notifications: people and systems hear about promotion events, and a broken receiver never
holds up the workflow.

Webhooks are delivered to a real HTTP server on 127.0.0.1 that records what it receives and can be
told to fail; email goes to Django's locmem outbox.
"""

import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.urls import reverse
from kombu.exceptions import OperationalError

from registry import services, signing, tasks
from registry.models import (
    ChannelKind,
    DeliveryState,
    NotificationChannel,
    NotificationDelivery,
    NotificationEvent,
    PromotionRequest,
)
from tests.factories import ModelVersionFactory, RegisteredModelFactory

pytestmark = pytest.mark.django_db

APPROVED = NotificationEvent.APPROVED
ROLLED_BACK = NotificationEvent.ROLLED_BACK


# --- a real receiver ----------------------------------------------------------------------------


class Receiver:
    """A webhook receiver on a random local port. `fail_next(n, status)` makes the next n requests
    answer `status`; afterwards it answers 200. `status` alone sets the answer for every request."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.failures_left = 0
        self.failure_status = 500
        self.delay_seconds = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                time.sleep(receiver.delay_seconds)
                if receiver.failures_left:
                    receiver.failures_left -= 1
                    status = receiver.failure_status
                else:
                    status = receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/keel-hook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def fail_next(self, times: int, status: int = 500) -> None:
        self.failures_left, self.failure_status = times, status

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch):
    # A developer's proxy settings must not route the local receiver through a proxy.
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def upsell(reviewer):
    return RegisteredModelFactory(name="soom-upsell", owner=reviewer)


@pytest.fixture
def hook(receiver):
    return NotificationChannel.objects.create(name="ops-hook", kind=ChannelKind.WEBHOOK, target=receiver.url)


def approved(model, *, key="promotion:7:approved", **extra):
    """The promotion service telling the world that request #7 was approved."""
    return services.notify(
        event=APPROVED,
        model=model,
        dedupe_key=key,
        payload={
            "title": f"{model.name} v2 → production: approved",
            "request_id": 7,
            "version": 2,
            "approved_by": "sam-reviewer",
            "url": "/promotions/7/",
            **extra,
        },
    )


def deliver(delivery) -> NotificationDelivery:
    """One attempt, as the task makes it; a transient failure comes back as DeliveryFailed."""
    try:
        return services.delivery_attempt(delivery_id=delivery.pk)
    except services.DeliveryFailed:
        delivery.refresh_from_db()
        return delivery


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/nobody-home"


# --- signing ------------------------------------------------------------------------------------


def test_a_receiver_verifies_keels_signature_and_refuses_tampering_and_replays():
    body, now = b'{"event":"promotion.approved"}', 1_750_000_000
    signature = signing.sign("s3cret", now, body)

    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64
    assert signing.verify("s3cret", now, body, signature, now=now + 10)
    assert signing.verify("s3cret", str(now), body, signature, now=now)  # header values are strings
    assert not signing.verify("s3cret", now, body.replace(b"approved", b"rejected"), signature, now=now)
    assert not signing.verify("other secret", now, body, signature, now=now)
    assert not signing.verify("s3cret", now + 1, body, signature, now=now)  # the timestamp is signed too
    assert not signing.verify("s3cret", now, body, signature, now=now + 301)  # a replay, minutes later
    assert not signing.verify("s3cret", "not-a-time", body, signature, now=now)


# --- webhooks -----------------------------------------------------------------------------------


def test_a_webhook_channel_receives_a_signed_event_it_can_verify(
    upsell, hook, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = approved(upsell)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (DeliveryState.DELIVERED, 1, 200)
    assert delivery.delivered_at is not None
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert headers["Content-Type"] == "application/json" and headers["User-Agent"] == "Keel"
    assert headers["X-Keel-Event"] == "promotion.approved"
    assert headers["X-Keel-Delivery"] == str(delivery.pk)
    assert signing.verify(hook.secret, headers["X-Keel-Timestamp"], body, headers["X-Keel-Signature"])
    assert not signing.verify(hook.secret, headers["X-Keel-Timestamp"], body + b" ", headers["X-Keel-Signature"])

    event = json.loads(body)
    assert event["event"] == "promotion.approved" and event["model"] == "soom-upsell"
    assert event["approved_by"] == "sam-reviewer" and event["sent_at"]
    assert event["url"] == "http://localhost:8000/promotions/7/"  # absolute: receivers have no page
    assert "delivery_id" not in event  # it travels in X-Keel-Delivery


def test_nothing_is_sent_when_the_workflow_rolls_back(upsell, hook, receiver, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        approved(upsell)
        raise RuntimeError("the approval failed after notify")

    assert receiver.requests == [] and not NotificationDelivery.objects.exists()


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt(
    upsell, hook, receiver, django_capture_on_commit_callbacks
):
    receiver.fail_next(2, status=503)

    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = approved(upsell)  # the first attempt fails; the workflow carries on regardless

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (DeliveryState.PENDING, 1, 503)
    # The task's retries, one by one (eager Celery cannot wait out a countdown, so they are driven here).
    delivery = deliver(delivery)
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 2)
    delivery = deliver(delivery)

    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (DeliveryState.DELIVERED, 3, 200)
    assert delivery.last_error == ""
    assert len(receiver.requests) == 3
    # Every retry is the same delivery, so the receiver can drop duplicates by X-Keel-Delivery.
    assert {r["headers"]["X-Keel-Delivery"] for r in receiver.requests} == {str(delivery.pk)}


def test_the_task_retries_a_failing_receiver_later_each_time(upsell, hook, receiver):
    receiver.status = 500
    [delivery] = approved(upsell)

    countdowns = []
    with mock.patch.object(tasks.deliver_notification, "retry", return_value=Retry()) as retry:
        for _ in range(3):
            with pytest.raises(Retry):
                tasks.deliver_notification(delivery.pk)
            countdowns.append(retry.call_args.kwargs["countdown"])
            assert isinstance(retry.call_args.kwargs["exc"], services.DeliveryFailed)

    assert 3.75 <= countdowns[0] <= 5 < 7.5 <= countdowns[1] <= 10 < 15 <= countdowns[2] <= 20
    assert services.delivery_retry_countdown(attempts=30) <= 600  # capped at ten minutes
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 3)


def test_a_receiver_that_always_fails_ends_failed_and_the_workflow_never_notices(
    upsell, hook, receiver, settings, django_capture_on_commit_callbacks
):
    settings.KEEL_NOTIFY_MAX_ATTEMPTS = 4
    receiver.status = 500

    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = approved(upsell)  # no exception reaches the promotion service
    for _ in range(5):
        delivery = deliver(delivery)  # the retries; the fourth attempt is the last

    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (DeliveryState.FAILED, 4, 500)
    assert "500" in delivery.last_error
    assert len(receiver.requests) == 4
    # A failed delivery is final: another task run sends nothing.
    assert services.delivery_attempt(delivery_id=delivery.pk).state == DeliveryState.FAILED
    assert len(receiver.requests) == 4


def test_a_receiver_answering_404_fails_at_once_without_retries(upsell, hook, receiver):
    receiver.status = 404
    [delivery] = approved(upsell)

    delivery = services.delivery_attempt(delivery_id=delivery.pk)  # returns: nothing to retry

    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (DeliveryState.FAILED, 1, 404)
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [408, 429, 502])
def test_busy_or_broken_receivers_are_retried(upsell, hook, receiver, status):
    receiver.status = status
    [delivery] = approved(upsell)

    with pytest.raises(services.DeliveryFailed):
        services.delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (DeliveryState.PENDING, 1, status)


def test_an_unreachable_receiver_is_a_transient_failure(upsell):
    NotificationChannel.objects.create(name="gone", kind=ChannelKind.WEBHOOK, target=closed_port_url())
    [delivery] = approved(upsell)

    with pytest.raises(services.DeliveryFailed):
        services.delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (DeliveryState.PENDING, 1, None)
    assert "refused" in delivery.last_error.lower()


def test_a_receiver_slower_than_the_timeout_is_a_transient_failure(upsell, hook, receiver, settings):
    settings.KEEL_WEBHOOK_TIMEOUT_SECONDS = 0.2
    receiver.delay_seconds = 1
    [delivery] = approved(upsell)

    started = time.monotonic()
    delivery = deliver(delivery)

    assert time.monotonic() - started < 1
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 1)
    assert "timed out" in delivery.last_error.lower()


def test_a_redirecting_receiver_is_not_followed(upsell, receiver):
    receiver.status = 302  # no Location: a follower would fail differently; Keel must not follow at all
    NotificationChannel.objects.create(name="moved", kind=ChannelKind.WEBHOOK, target=receiver.url)
    [delivery] = approved(upsell)

    delivery = deliver(delivery)

    assert (delivery.last_status_code, len(receiver.requests)) == (302, 1)


def test_a_non_http_target_that_slipped_past_the_admin_is_never_opened(upsell):
    NotificationChannel.objects.create(name="sneaky", kind=ChannelKind.WEBHOOK, target="file:///etc/passwd")
    [delivery] = approved(upsell)

    delivery = services.delivery_attempt(delivery_id=delivery.pk)

    assert delivery.state == DeliveryState.FAILED and "not an http(s) URL" in delivery.last_error


# --- who hears what -----------------------------------------------------------------------------


def test_the_same_event_sent_twice_is_delivered_once(upsell, hook, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        [first] = approved(upsell)
        [again] = approved(upsell)

    assert first.pk == again.pk
    assert NotificationDelivery.objects.count() == 1 and len(receiver.requests) == 1


def test_channels_hear_only_their_events_and_their_model(upsell, reviewer):
    other_model = RegisteredModelFactory(name="churn", owner=reviewer)
    everything = NotificationChannel.objects.create(name="all", kind=ChannelKind.EMAIL, target="ops@soom.example")
    approvals = NotificationChannel.objects.create(
        name="approvals", kind=ChannelKind.EMAIL, target="cab@soom.example", events=[APPROVED]
    )
    upsell_only = NotificationChannel.objects.create(
        name="upsell team", kind=ChannelKind.EMAIL, target="upsell@soom.example", model=upsell
    )
    NotificationChannel.objects.create(name="muted", kind=ChannelKind.EMAIL, target="x@soom.example", is_active=False)

    def channels(deliveries):
        return {d.channel for d in deliveries}

    assert channels(approved(upsell)) == {everything, approvals, upsell_only}
    assert channels(approved(other_model)) == {everything, approvals}
    assert channels(services.notify(event=ROLLED_BACK, model=upsell, dedupe_key="rb:1", payload={})) == {
        everything,
        upsell_only,
    }


def test_an_email_channel_sends_one_mail_with_the_title_and_a_link(upsell, django_capture_on_commit_callbacks):
    NotificationChannel.objects.create(name="cab", kind=ChannelKind.EMAIL, target="cab@soom.example")

    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = approved(upsell, evidence={"big": "nested data stays out of the mail"})

    [message] = mail.outbox
    assert message.subject == "soom-upsell v2 → production: approved"
    assert message.to == ["cab@soom.example"] and message.from_email == "keel@localhost"
    assert "Approved by: sam-reviewer" in message.body and "Model: soom-upsell" in message.body
    assert "Open in Keel: http://localhost:8000/promotions/7/" in message.body
    assert "nested data" not in message.body
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED


def test_an_email_without_a_title_is_named_after_the_event(upsell):
    NotificationChannel.objects.create(name="cab", kind=ChannelKind.EMAIL, target="cab@soom.example")
    [delivery] = services.notify(event=ROLLED_BACK, model=upsell, dedupe_key="rb:1", payload={"to_version": 1})

    services.delivery_attempt(delivery_id=delivery.pk)

    assert mail.outbox[0].subject == "Rolled back"


def test_an_smtp_outage_is_a_transient_failure(upsell):
    NotificationChannel.objects.create(name="cab", kind=ChannelKind.EMAIL, target="cab@soom.example")
    [delivery] = approved(upsell)

    with mock.patch("registry.services.notifications.send_mail", side_effect=ConnectionRefusedError("smtp down")):
        delivery = deliver(delivery)

    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 1)
    assert "smtp down" in delivery.last_error


# --- when the broker is down --------------------------------------------------------------------


def test_a_broker_outage_leaves_the_delivery_pending_until_the_sweep(
    upsell, hook, receiver, django_capture_on_commit_callbacks
):
    down = mock.patch.object(tasks.deliver_notification, "delay", side_effect=OperationalError("redis down"))
    with down, django_capture_on_commit_callbacks(execute=True):
        [delivery] = approved(upsell)  # returns normally

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 0)
    assert receiver.requests == []

    # The periodic sweep leaves fresh deliveries alone (their task may just be waiting in the queue)…
    assert tasks.requeue_pending_deliveries() == 0
    # …and queues the ones that have waited too long.
    NotificationDelivery.objects.filter(pk=delivery.pk).update(created_at=delivery.created_at - timedelta(minutes=5))
    assert tasks.requeue_pending_deliveries() == 1

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and len(receiver.requests) == 1
    assert tasks.requeue_pending_deliveries() == 0


def test_the_sweep_leaves_a_delivery_between_retries_alone(upsell, hook, receiver):
    receiver.status = 500
    [delivery] = approved(upsell)
    deliver(delivery)  # one failed attempt; its retry is scheduled in the broker
    NotificationDelivery.objects.filter(pk=delivery.pk).update(created_at=delivery.created_at - timedelta(hours=1))

    with mock.patch.object(tasks.deliver_notification, "delay") as delay:
        assert services.deliveries_requeue_pending(older_than_seconds=60) == 1  # an hour: the retry was lost
        NotificationDelivery.objects.filter(pk=delivery.pk).update(created_at=delivery.created_at)
        assert services.deliveries_requeue_pending(older_than_seconds=0) == 0  # still within its retries
    delay.assert_called_once_with(delivery.pk)


# --- admin --------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(reviewer, client):
    reviewer.is_staff = reviewer.is_superuser = True
    reviewer.save()
    client.force_login(reviewer)
    return client


def test_staff_add_a_webhook_channel_in_the_admin(admin_client, upsell):
    response = admin_client.post(
        reverse("admin:registry_notificationchannel_add"),
        {
            "name": "ops-hook",
            "kind": "webhook",
            "target": "https://hooks.soom.example/keel",
            "events": [APPROVED, ROLLED_BACK],
            "model": upsell.pk,
            "is_active": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    channel = NotificationChannel.objects.get()
    assert (channel.target, channel.events, channel.model) == (
        "https://hooks.soom.example/keel",
        [APPROVED, ROLLED_BACK],
        upsell,
    )
    assert len(channel.secret) == 64  # generated, never typed
    page = admin_client.get(reverse("admin:registry_notificationchannel_change", args=[channel.pk]))
    assert channel.secret in page.content.decode() and "X-Keel-Signature" in page.content.decode()
    assert 'name="secret"' not in page.content.decode()


@pytest.mark.parametrize(
    "kind, target",
    [
        ("webhook", "ftp://hooks.soom.example/keel"),
        ("webhook", "file:///etc/passwd"),
        ("webhook", "hooks.soom.example/keel"),
        ("email", "not-an-address"),
    ],
)
def test_the_admin_refuses_a_target_that_does_not_fit_the_kind(admin_client, kind, target):
    response = admin_client.post(
        reverse("admin:registry_notificationchannel_add"),
        {"name": "typo", "kind": kind, "target": target, "is_active": "on"},
    )

    assert response.status_code == 200
    assert "target" in response.context["adminform"].form.errors
    assert not NotificationChannel.objects.exists()


def test_a_promotion_request_is_read_only_in_the_admin(admin_client, upsell, pipeline):
    version = ModelVersionFactory(model=upsell, created_by=pipeline)
    request = PromotionRequest.objects.create(
        model=upsell,
        version=version,
        reason="Better recall on Q3 signups",
        submitted_by=pipeline,
        state="awaiting_approval",
        failure_reasons=[],
        evidence={"primary_metric": "roc_auc", "rows": 1200, "metrics": {"candidate": {"roc_auc": 0.84}}},
    )
    url = reverse("admin:registry_promotionrequest_change", args=[request.pk])

    page = admin_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "roc_auc (candidate)" in html and "0.84" in html and "_save" not in html

    response = admin_client.post(url, {"state": "approved", "reason": "forged", "decision_comment": "lgtm"})
    assert response.status_code == 403
    request.refresh_from_db()
    assert (request.state, request.reason, request.decided_by) == (
        "awaiting_approval",
        "Better recall on Q3 signups",
        None,
    )


def test_deliveries_are_visible_but_not_editable_in_the_admin(admin_client, upsell, hook):
    [delivery] = approved(upsell)

    assert (
        admin_client.get(reverse("admin:registry_notificationdelivery_changelist") + "?state=pending").status_code
        == 200
    )
    assert admin_client.get(reverse("admin:registry_notificationdelivery_add")).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:registry_notificationdelivery_change", args=[delivery.pk]), {"state": "delivered"}
        ).status_code
        == 403
    )


def test_staff_edit_a_promotion_policy_and_are_recorded_as_its_editor(admin_client, upsell, reviewer):
    response = admin_client.post(
        reverse("admin:registry_promotionpolicy_add"),
        {
            "model": upsell.pk,
            "primary_metric": "pr_auc",
            "min_primary_metric": "0.4",
            "max_regression": "0.02",
            "min_margin_over_baseline": "0.05",
            "max_flip_rate": "0.1",
            "max_slice_gap": "",
            "slice_columns": "[]",
            "min_slice_rows": "50",
            "threshold_rule": "max_f1",
            "threshold_target": "",
            "ranking_k": "10",
            "staleness_days": "90",
            # The add form shows both blocking rules on, so a browser sends them checked.
            "block_importance_jump": "on",
            "max_importance_share": "0.5",
            "block_failed_holdout_audit": "on",
            # The read-only inline of rule switches sends its management form.
            "switches-TOTAL_FORMS": "0",
            "switches-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    policy = upsell.policy
    assert (policy.primary_metric, policy.min_primary_metric, policy.updated_by) == ("pr_auc", 0.4, reviewer)
