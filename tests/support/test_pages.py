"""The support agents' pages (/support/), as agents, reviewers, labellers, outsiders and anonymous
visitors use them: search an ID and read its history, blacklist, boost, lift early, upload a CSV
(preview, confirm once, all or nothing), file a privacy request.

Every request commits (see `pages`), so the rate limit counts and a privacy request's erasure runs,
as in production where each request is its own transaction.
"""

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import include, path
from django.utils import timezone

from mlops import urls as mlops_urls
from support import services
from support.models import BulkUpload, EntryReason, EraseState, ListEntry, PrivacyRequest
from support.urls import pages as support_urls
from tests.clients import committing
from tests.factories import BlacklistEntryFactory, BoostEntryFactory, SupportAgentFactory

pytestmark = pytest.mark.django_db

HOME, SEARCH, HISTORY = "/support/", "/support/search/", "/support/history/"
BLACKLIST, BOOST, BULK, PRIVACY = "/support/blacklist/", "/support/boost/", "/support/bulk/", "/support/privacy/"


def history_url(entity_type: str, entity_id: str) -> str:
    return f"{HISTORY}?{urlencode({'entity_type': entity_type, 'entity_id': entity_id})}"


def local(dt) -> str:
    """A datetime as a datetime-local input sends it (Keel's time zone is UTC)."""
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


def text(response) -> str:
    """The page's visible words, tags stripped and spaces collapsed, to assert on what people read."""
    body = response.content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return (
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))
        .replace("&amp;", "&")
        .replace("&#x27;", "'")
        .replace("&quot;", '"')
        .strip()
    )


def csv_upload(content: str, name: str = "ids.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


@pytest.fixture
def pages(django_capture_on_commit_callbacks):
    """pages(user): a browser-like client signed in as that user (None: anonymous); each request commits."""

    def make(user=None, **kwargs) -> Client:
        client = Client(**kwargs)
        if user is not None:
            client.force_login(user)
        return committing(client, django_capture_on_commit_callbacks)

    return make


@pytest.fixture
def as_agent(pages, agent):
    return pages(agent)


ENTRY_FORM = {"entity_type": "product", "note": "", "scope": "all"}  # both forms: a product, everywhere, no note


def blacklist_form(**overrides) -> dict:
    return dict(ENTRY_FORM, entity_id="sku-1", reason="inappropriate", expires_at="") | overrides


def boost_form(**overrides) -> dict:
    in_two_weeks = local(timezone.now() + timedelta(days=14))
    return dict(ENTRY_FORM, entity_id="new-sku-1", weight="2", reason="cold_start", expires_at=in_two_weeks) | overrides


def bulk_form(content: str, **overrides) -> dict:
    return {
        "file": csv_upload(content),
        "kind": "blacklist",
        "entity_type": "product",
        "reason": "fraud",
        "note": "",
        "scope": "all",
        "weight": "",
        "expires_at": "",
        **overrides,
    }


def preview(client, content: str, **overrides) -> BulkUpload:
    response = client.post(BULK, bulk_form(content, **overrides))
    assert response.status_code == 302, text(response)
    bulk = BulkUpload.objects.latest("pk")
    assert response["Location"] == f"/support/bulk/{bulk.pk}/"
    return bulk


# --- landing page and search ---------------------------------------------------------------------------


def test_the_landing_page_has_the_search_box_recent_changes_and_the_forms(surfaces, as_agent, agent, commit):
    with commit():
        for n in range(22):
            services.blacklist_add(
                actor=agent, entity_type="product", entity_id=f"sku-{n}", reason="fraud", all_surfaces=True
            )
        in_three_days = timezone.now() + timedelta(days=3)
        BoostEntryFactory(actor=agent, entity_id="new-sku", weight=3, surfaces=["home"], expires_at=in_three_days)
        services.entry_lift(entry=ListEntry.objects.get(entity_id="sku-0"), actor=agent, reason="Appeal accepted")
    response = as_agent.get(HOME)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'action="/support/search/"' in body and 'name="q"' in body
    for url in (BLACKLIST, BOOST, BULK, PRIVACY):
        assert f'href="{url}"' in body
    changes = re.findall(r'<tr class="action-(\w+)">', body)
    assert len(changes) == 20  # the last 20 actions, newest first
    assert changes[:2] == ["lifted", "boosted"]
    page = text(response)
    assert "ada-agent Lifted early" in page and "Appeal accepted" in page
    assert "Cold-start product, weight 3, on home" in page
    assert "You can make" in page  # the rate limit, before it bites


def test_a_bulk_upload_is_one_recent_change(surfaces, as_agent, agent, commit):
    bulk = preview(as_agent, "sku-1\nsku-2\nsku-3\n")
    as_agent.post(f"/support/bulk/{bulk.pk}/confirm/", {})
    rows = re.findall(r'<tr class="action-(\w+)">', as_agent.get(HOME).content.decode())
    assert rows == ["bulk_applied"]
    assert "3 IDs, Fraud, on all surfaces" in text(as_agent.get(HOME))


def test_search_lists_matching_ids_and_an_exact_match_opens_its_history(surfaces, as_agent, commit):
    with commit():
        BlacklistEntryFactory(entity_id="sku-10")
        BlacklistEntryFactory(entity_id="sku-11")
        BoostEntryFactory(entity_id="sku-11-b")
    response = as_agent.get(SEARCH, {"q": "sku-1"})
    assert response.status_code == 200
    table = response.content.decode().split('id="search-results"')[1].split("</table>")[0]
    found = re.findall(r'entity_id=([\w-]+)">', table)
    assert found == ["sku-10", "sku-11", "sku-11-b"]

    exact = as_agent.get(SEARCH, {"q": "sku-11-b"})
    assert exact.status_code == 302 and exact["Location"] == history_url("product", "sku-11-b")

    nothing = as_agent.get(SEARCH, {"q": "cust-404"})
    assert "No ID starting with “cust-404”" in text(nothing)
    assert history_url("customer", "cust-404").replace("&", "&amp;") in nothing.content.decode()


# --- an ID's history ------------------------------------------------------------------------------------


def test_the_history_shows_every_action_on_an_id_by_whom_when_and_why(
    surfaces, as_agent, agent, erasures, commit, clock
):
    other = SupportAgentFactory(username="bo-agent")
    customer = {"entity_type": "customer", "entity_id": "cust-7"}
    with commit():
        BlacklistEntryFactory(
            actor=agent, **customer, reason="other", note="Abusive chat messages", surfaces=["search"]
        )
        BoostEntryFactory(
            actor=other, **customer, weight=1.5, surfaces=["email"], expires_at=timezone.now() + timedelta(hours=1)
        )
    clock.advance(hours=2)  # the boost expires by itself
    with commit():
        services.entry_lift(entry=ListEntry.objects.get(kind="blacklist"), actor=other, reason="Apology accepted")
        services.privacy_request_create(actor=agent, entity_id="cust-7", reference="GDPR-19", note="By email")
    response = as_agent.get(history_url("customer", "cust-7"))
    assert response.status_code == 200
    page = text(response)
    history = page[page.index("History") :]
    assert re.findall(r"support-event action-(\w+)", response.content.decode()) == [  # newest first
        "data_erased",
        "blacklisted",
        "privacy_requested",
        "lifted",
        "expired",
        "boosted",
        "blacklisted",
    ]
    first, privacy = ListEntry.objects.filter(kind="blacklist").order_by("pk")
    assert f"Blacklisted blacklist #{first.pk} on search, until lifted by ada-agent" in history
    assert "Other — Abusive chat messages" in history
    assert "on email, weight 1.5" in history and "by bo-agent" in history
    assert "Apology accepted" in history and "Reached its expiry" in history
    assert f"Privacy request blacklist #{privacy.pk} on all surfaces, for good by ada-agent" in history
    assert "By email · reference GDPR-19" in history
    assert "audit_rows: 3, prediction_rows: 12" in history

    privacy = page[page.index("Privacy requests") : page.index("History")]
    assert "GDPR-19" in privacy and "erased" in privacy and "prediction_rows : 12 rows" in privacy
    # What applies now: the privacy blacklist, which is never lifted.
    active = page[page.index("Active now") : page.index("Privacy requests")]
    assert "Privacy request" in active and "Never lifted" in active
    assert 'action="/support/entries/' not in response.content.decode()


def test_an_id_without_history_has_a_page_to_act_from(surfaces, as_agent):
    response = as_agent.get(history_url("product", "a/b?c=1"))
    assert response.status_code == 200
    assert "was never blacklisted, boosted or forgotten" in text(response)
    body = response.content.decode()
    assert 'href="/support/blacklist/?entity_type=product&amp;entity_id=a%2Fb%3Fc%3D1"' in body
    assert as_agent.get(HISTORY).status_code == 302  # which ID? back to the search


def test_a_pending_erasure_shows_as_pending(surfaces, as_agent, agent):
    services.privacy_request_create(actor=agent, entity_id="cust-8")  # never committed: erasure not run
    page = text(as_agent.get(history_url("customer", "cust-8")))
    assert "erasure pending" in page


# --- blacklist ------------------------------------------------------------------------------------------


def test_an_agent_blacklists_an_id_on_chosen_surfaces_until_a_date(surfaces, as_agent, agent):
    form = as_agent.get(BLACKLIST, {"entity_type": "customer", "entity_id": "cust-1"})
    assert form.status_code == 200
    body = form.content.decode()
    assert 'name="csrfmiddlewaretoken"' in body and 'value="cust-1"' in body
    assert 'value="privacy"' not in body  # a privacy request has its own form
    until = timezone.now() + timedelta(days=3)
    response = as_agent.post(
        BLACKLIST,
        blacklist_form(
            entity_type="customer",
            entity_id="cust-1",
            reason="legal",
            note="Court order 12/2026",
            scope="chosen",
            surfaces=["home", "email"],
            expires_at=local(until),
        ),
        follow=True,
    )
    assert response.redirect_chain == [(history_url("customer", "cust-1"), 302)]
    entry = ListEntry.objects.get(entity_id="cust-1")
    assert (entry.kind, entry.reason, entry.note, entry.scope_key) == (
        "blacklist",
        "legal",
        "Court order 12/2026",
        "email,home",
    )
    assert entry.created_by == agent and abs(entry.expires_at - until) < timedelta(minutes=1)
    page = text(response)
    assert f"Blacklisted customer cust-1 on email, home until {entry.expires_at:%Y-%m-%d %H:%M} UTC" in page
    assert f"(entry #{entry.pk})" in page


def test_blacklisting_everywhere_until_lifted(surfaces, as_agent):
    response = as_agent.post(BLACKLIST, blacklist_form(surfaces=["home"]))  # ticked, then "all surfaces" picked
    assert response.status_code == 302
    entry = ListEntry.objects.get(entity_id="sku-1")
    assert entry.all_surfaces and entry.expires_at is None


def test_blacklisting_an_id_twice_is_a_conflict_naming_the_entry(surfaces, as_agent, commit):
    with commit():
        first = BlacklistEntryFactory(entity_id="sku-1")
    response = as_agent.post(BLACKLIST, blacklist_form())
    assert response.status_code == 409
    page = text(response)
    assert f"product sku-1 is already blacklisted on all surfaces by entry #{first.pk}" in page
    assert "See its history and active entries" in page
    assert history_url("product", "sku-1").replace("&", "&amp;") in response.content.decode()
    assert ListEntry.objects.count() == 1


# (overrides of a valid form, the field at fault, its message)
BAD_BLACKLISTS = [
    ({"reason": "other", "note": "  "}, "note", "Say why in the note when the reason is 'other'."),
    ({"expires_at": "2020-01-01T00:00"}, "expires_at", "The expiry must be in the future."),
    ({"expires_at": "next tuesday"}, "expires_at", "Give a date and time, e.g. 2026-12-01 09:00."),
    ({"scope": "chosen"}, "surfaces", "Tick at least one surface, or choose all surfaces."),
    ({"entity_id": "sku 1"}, "entity_id", "An ID is 1–200 characters without spaces or control characters."),
    ({"entity_id": ""}, "entity_id", "Say which ID."),
    ({"reason": "privacy"}, "reason", "Select a valid choice."),
]
BAD_BOOSTS = [
    ({"weight": "50"}, "weight", "A boost's weight is between 0.1 and 10."),
    ({"weight": ""}, "weight", "Give the boost's weight."),
    ({"expires_at": ""}, "expires_at", "Give an expiry: boosts are temporary."),
    ({"expires_at": "2020-01-01T00:00"}, "expires_at", "The expiry must be in the future."),
    ({"reason": "other"}, "note", "Say why in the note when the reason is 'other'."),
    ({"reason": "fraud"}, "reason", "Select a valid choice."),
]


@pytest.mark.parametrize(
    "url, form, overrides, field, message",
    [(BLACKLIST, blacklist_form, *bad) for bad in BAD_BLACKLISTS] + [(BOOST, boost_form, *bad) for bad in BAD_BOOSTS],
)
def test_a_bad_list_entry_is_refused_on_its_field(surfaces, as_agent, url, form, overrides, field, message):
    response = as_agent.post(url, form(**overrides))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert not ListEntry.objects.exists()


# --- boost ----------------------------------------------------------------------------------------------


def test_the_boost_form_expires_in_two_weeks_by_default(surfaces, as_agent):
    response = as_agent.get(BOOST, {"entity_id": "new-sku-1"})
    default = services.boost_default_expiry()
    assert f'value="{local(default)}"' in response.content.decode() or (
        f'value="{local(default - timedelta(minutes=1))}"' in response.content.decode()
    )


def test_an_agent_boosts_a_new_product(surfaces, as_agent, agent):
    response = as_agent.post(BOOST, boost_form(scope="chosen", surfaces=["home"], weight="2.5"), follow=True)
    assert response.redirect_chain == [(history_url("product", "new-sku-1"), 302)]
    entry = ListEntry.objects.get(entity_id="new-sku-1")
    assert (entry.kind, entry.weight, entry.reason, entry.scope_key) == ("boost", 2.5, "cold_start", "home")
    assert "Boosted product new-sku-1 with weight 2.5 on home until" in text(response)
    assert f'data-entry="{entry.pk}"' in response.content.decode()  # listed as active, with its lift form


def test_boosting_a_blacklisted_id_is_a_conflict(surfaces, as_agent, commit):
    with commit():
        BlacklistEntryFactory(entity_id="new-sku-1", surfaces=["home"])
    response = as_agent.post(BOOST, boost_form(scope="chosen", surfaces=["home", "email"]))
    assert response.status_code == 409
    assert "a blacklisted ID cannot be boosted there" in text(response)
    assert not ListEntry.objects.filter(kind="boost").exists()


def test_a_boost_lasts_at_most_the_longest_allowed(surfaces, as_agent):
    response = as_agent.post(BOOST, boost_form(expires_at=local(timezone.now() + timedelta(days=45))))
    assert response.status_code == 400 and "A boost lasts at most 30 days." in text(response)


# --- rate limit -----------------------------------------------------------------------------------------


def test_over_the_rate_limit_the_form_says_so_with_429(surfaces, as_agent, settings):
    settings.KEEL_SUPPORT_RATE_LIMIT_CHANGES = 2
    for n in range(2):
        assert as_agent.post(BLACKLIST, blacklist_form(entity_id=f"sku-{n}")).status_code == 302
    response = as_agent.post(BLACKLIST, blacklist_form(entity_id="sku-2"))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    page = text(response)
    assert "You have made 2 changes in the last 10 minutes; the limit is 2. Try again in" in page
    assert "You can make 0 more changes" in page
    assert response.context["form"]["entity_id"].value() == "sku-2"  # kept, to send again later
    assert not ListEntry.objects.filter(entity_id="sku-2").exists()

    boost = as_agent.post(BOOST, boost_form())
    assert boost.status_code == 429 and "the limit is 2" in text(boost)
    privacy = as_agent.post(PRIVACY, {"entity_id": "cust-1", "confirm": "on"})
    assert privacy.status_code == 429 and not PrivacyRequest.objects.exists()


# --- lifting early --------------------------------------------------------------------------------------


def test_an_agent_lifts_an_entry_early_saying_why(surfaces, as_agent, agent, commit):
    with commit():
        entry = BlacklistEntryFactory(entity_id="sku-1")
    url = f"/support/entries/{entry.pk}/lift/"
    page = as_agent.get(history_url("product", "sku-1")).content.decode()
    assert f'action="{url}"' in page

    missing = as_agent.post(url, {"reason": " "})
    assert missing.status_code == 400 and "Say why the entry is lifted early." in text(missing)
    entry.refresh_from_db()
    assert entry.lifted_at is None

    response = as_agent.post(url, {"reason": "Appeal accepted"}, follow=True)
    assert response.redirect_chain == [(history_url("product", "sku-1"), 302)]
    entry.refresh_from_db()
    assert entry.lifted_by == agent and entry.lift_reason == "Appeal accepted"
    page = text(response)
    assert f"Lifted blacklist #{entry.pk} of product sku-1" in page
    assert "Lifted early" in page and "No active blacklist or boost." in page

    again = as_agent.post(url, {"reason": "Twice"})
    assert again.status_code == 409 and f"Entry #{entry.pk} was already lifted by ada-agent" in text(again)
    assert as_agent.post("/support/entries/999999/lift/", {"reason": "x"}).status_code == 404


def test_a_privacy_blacklist_cannot_be_lifted_from_the_page(surfaces, as_agent, agent, erasures, commit):
    with commit():
        request = services.privacy_request_create(actor=agent, entity_id="cust-7")
    response = as_agent.post(f"/support/entries/{request.entry_id}/lift/", {"reason": "Came back"})
    assert response.status_code == 409
    assert "asked to be forgotten out everywhere; it is never lifted" in text(response)
    assert ListEntry.objects.get(pk=request.entry_id).lifted_at is None


# --- bulk uploads ---------------------------------------------------------------------------------------


def test_the_bulk_preview_shows_each_rows_status_and_the_counts(surfaces, as_agent, commit):
    with commit():
        BlacklistEntryFactory(entity_id="sku-active")
    assert as_agent.get(BULK).status_code == 200
    bulk = preview(as_agent, "sku-1\nsku-2\nsku-1\nnot an id\nsku-active\n")
    assert ListEntry.objects.count() == 1  # a preview writes nothing

    response = as_agent.get(f"/support/bulk/{bulk.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    rows = re.findall(r'<tr class="row-\w+" data-status="(\w+)">\s*<td class="num">(\d+)</td>', body)
    assert sorted((int(line), status) for status, line in rows) == [
        (1, "new"),
        (2, "new"),
        (3, "duplicate"),
        (4, "invalid"),
        (5, "already_active"),
    ]
    assert [status for status, _ in rows][:3] == ["invalid", "already_active", "duplicate"]  # problems first
    counts = dict(re.findall(r'data-status="(\w+)"><dt>[^<]+</dt><dd>(\d+)</dd>', body))
    assert counts == {"new": "2", "duplicate": "1", "invalid": "1", "already_active": "1"}
    page = text(response)
    assert "Same ID as line 1." in page and "An ID is 1–200 characters" in page
    assert "is already blacklisted on all surfaces" in page
    assert "1 row is invalid" in page and "Nothing can be applied" in page
    assert 'id="bulk-confirm"' not in body  # no button while a row is invalid

    only_invalid = as_agent.get(f"/support/bulk/{bulk.pk}/", {"status": "invalid"}).content.decode()
    assert re.findall(r'data-status="(\w+)">\s*<td', only_invalid) == ["invalid"]


def test_confirming_with_a_bad_row_writes_nothing(surfaces, as_agent):
    bulk = preview(as_agent, "sku-1\nsku-2\nnot an id\n")
    response = as_agent.post(f"/support/bulk/{bulk.pk}/confirm/", {})
    assert response.status_code == 400
    assert "1 rows are invalid (line 3:" in text(response) and "Nothing was written" in text(response)
    assert not ListEntry.objects.exists()
    bulk.refresh_from_db()
    assert bulk.applied_at is None


def test_confirming_applies_the_new_rows_once_however_often_it_is_clicked(surfaces, as_agent, commit):
    with commit():
        BlacklistEntryFactory(entity_id="sku-active")
    bulk = preview(as_agent, "sku-1\nsku-2\nsku-2\nsku-active\n")
    page = as_agent.get(f"/support/bulk/{bulk.pk}/")
    assert "Confirm and apply 2 IDs" in text(page)

    response = as_agent.post(f"/support/bulk/{bulk.pk}/confirm/", {}, follow=True)
    assert response.redirect_chain == [(f"/support/bulk/{bulk.pk}/", 302)]
    assert f"Blacklisted 2 IDs on all surfaces (bulk upload #{bulk.pk})." in text(response)
    assert "Applied" in text(response) and 'id="bulk-confirm"' not in response.content.decode()
    assert ListEntry.objects.filter(bulk=bulk).count() == 2

    again = as_agent.post(f"/support/bulk/{bulk.pk}/confirm/", {}, follow=True)
    assert again.status_code == 200
    assert "This upload was already applied on" in text(again) and "nothing was applied again" in text(again)
    assert ListEntry.objects.filter(bulk=bulk).count() == 2
    # Each ID's history links back to the upload.
    assert f"bulk upload #{bulk.pk}" in text(as_agent.get(history_url("product", "sku-1")))


def test_a_large_blacklist_needs_the_count_typed(surfaces, as_agent, settings):
    settings.KEEL_SUPPORT_BULK_CONFIRM_THRESHOLD = 3
    bulk = preview(as_agent, "".join(f"sku-{n}\n" for n in range(5)))
    page = as_agent.get(f"/support/bulk/{bulk.pk}/").content.decode()
    assert 'name="confirm_count"' in page and 'type="number"' in page
    for typed in ("", "4"):
        refused = as_agent.post(f"/support/bulk/{bulk.pk}/confirm/", {"confirm_count": typed})
        assert refused.status_code == 400
        assert "This blacklists 5 IDs. To confirm, type the number" in text(refused)
        assert refused.context["confirm_form"].errors["confirm_count"]
    assert not ListEntry.objects.exists()
    assert as_agent.post(f"/support/bulk/{bulk.pk}/confirm/", {"confirm_count": "5"}).status_code == 302
    assert ListEntry.objects.filter(bulk=bulk).count() == 5


def test_a_bulk_boost_with_its_weight_and_expiry(surfaces, as_agent):
    until = timezone.now() + timedelta(days=7)
    bulk = preview(
        as_agent,
        "entity_id\nnew-1\nnew-2\n",
        kind="boost",
        reason="cold_start",
        weight="1.5",
        expires_at=local(until),
        scope="chosen",
        surfaces=["home"],
    )
    assert (bulk.kind, bulk.weight, bulk.surface_names) == ("boost", 1.5, ["home"])
    assert as_agent.post(f"/support/bulk/{bulk.pk}/confirm/", {}).status_code == 302
    assert sorted(ListEntry.objects.filter(kind="boost").values_list("entity_id", "weight")) == [
        ("new-1", 1.5),
        ("new-2", 1.5),
    ]


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"file": ""}, "file", "Choose the CSV file to upload."),
        ({"file": csv_upload("entity_id,colour\nsku-1,red\n")}, "file", "Unknown columns: colour."),
        (
            {"kind": "boost", "reason": "cold_start", "weight": "2"},
            "expires_at",
            "Boosts are temporary: give an expiry.",
        ),
        ({"reason": "cold_start"}, "reason", "A blacklist reason is one of"),
        ({"reason": "other"}, "note", "Say why in the note"),
    ],
)
def test_a_bad_upload_is_refused_on_its_field(surfaces, as_agent, overrides, field, message):
    data = bulk_form("sku-1\n", **overrides)
    if data["file"] == "":
        del data["file"]
    response = as_agent.post(BULK, data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not BulkUpload.objects.exists()


def test_only_the_uploader_confirms(surfaces, as_agent, pages):
    bulk = preview(as_agent, "sku-1\n")
    other = pages(SupportAgentFactory())
    page = other.get(f"/support/bulk/{bulk.pk}/")
    assert page.status_code == 200 and "Only ada-agent, who uploaded the file, can confirm it." in text(page)
    refused = other.post(f"/support/bulk/{bulk.pk}/confirm/", {})
    assert refused.status_code == 403 and "Only the agent who uploaded a file may confirm it." in text(refused)
    assert not ListEntry.objects.exists()


def test_an_expired_preview_cannot_be_confirmed(surfaces, as_agent, clock):
    bulk = preview(as_agent, "sku-1\n")
    clock.advance(hours=1)
    assert "This preview expired" in text(as_agent.get(f"/support/bulk/{bulk.pk}/"))
    response = as_agent.post(f"/support/bulk/{bulk.pk}/confirm/", {})
    assert response.status_code == 409 and "upload the file again" in text(response)
    assert not ListEntry.objects.exists()


# --- privacy requests -----------------------------------------------------------------------------------


def test_a_privacy_request_explains_asks_for_confirmation_and_shows_in_the_history(
    surfaces, as_agent, agent, erasures, commit
):
    with commit():
        BoostEntryFactory(entity_type="customer", entity_id="cust-7")
    form = as_agent.get(PRIVACY, {"entity_id": "cust-7"})
    page = text(form)
    for words in (
        "Blacklisted on every surface, for good",
        "Excluded from sampling",
        "Logged data erased or anonymised",
    ):
        assert words in page
    assert 'value="cust-7"' in form.content.decode()

    unconfirmed = as_agent.post(PRIVACY, {"entity_id": "cust-7", "reference": "GDPR-19"})
    assert unconfirmed.status_code == 400 and "Tick the box to confirm" in text(unconfirmed)
    assert not PrivacyRequest.objects.exists() and erasures == []

    response = as_agent.post(
        PRIVACY, {"entity_id": "cust-7", "reference": "GDPR-19", "note": "By email", "confirm": "on"}, follow=True
    )
    request = PrivacyRequest.objects.get()
    assert response.redirect_chain == [(history_url("customer", "cust-7"), 302)]
    assert erasures == ["cust-7"] and request.erase_state == EraseState.DONE
    assert request.entry.reason == EntryReason.PRIVACY and request.entry.all_surfaces
    assert ListEntry.objects.get(kind="boost").lift_reason == f"Privacy request #{request.pk}"
    page = text(response)
    assert f"Privacy request #{request.pk} filed: customer cust-7 is blacklisted on every surface for good" in page
    assert "GDPR-19" in page and "prediction_rows : 12 rows" in page and "Data erased" in page
    assert f"Privacy request #{request.pk}" in page  # the boost it ended, in the history


def test_a_privacy_request_needs_a_valid_customer_id(surfaces, as_agent):
    response = as_agent.post(PRIVACY, {"entity_id": "cust 7", "confirm": "on"})
    assert response.status_code == 400 and "without spaces" in text(response)
    assert not PrivacyRequest.objects.exists()


# --- who may do what ------------------------------------------------------------------------------------

READ_PAGES = [HOME, f"{SEARCH}?q=sku", history_url("product", "sku-1")]
FORM_PAGES = [BLACKLIST, BOOST, BULK, PRIVACY]


@pytest.fixture
def state(surfaces, agent, commit):
    """An entry and a previewed upload of the agent's, for the pages that show one."""
    with commit():
        entry = BlacklistEntryFactory(entity_id="sku-1", actor=agent)
    bulk = services.bulk_preview(
        actor=agent, kind="blacklist", file=b"sku-2\n", entity_type="product", reason="fraud", all_surfaces=True
    )
    return {"entry": entry, "bulk": bulk}


def posts(state) -> list[tuple[str, dict]]:
    return [
        (BLACKLIST, blacklist_form(entity_id="sku-9")),
        (BOOST, boost_form()),
        (BULK, bulk_form("sku-9\n")),
        (f"/support/bulk/{state['bulk'].pk}/confirm/", {}),
        (f"/support/entries/{state['entry'].pk}/lift/", {"reason": "x"}),
        (PRIVACY, {"entity_id": "cust-9", "confirm": "on"}),
    ]


def test_agents_read_and_change(state, as_agent):
    for url in [*READ_PAGES, f"/support/bulk/{state['bulk'].pk}/", *FORM_PAGES]:
        assert as_agent.get(url).status_code == 200, url


def test_reviewers_read_the_lists_but_see_no_forms_and_may_not_post(state, pages, reviewer):
    client = pages(reviewer)
    for url in [*READ_PAGES, f"/support/bulk/{state['bulk'].pk}/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert body.count('method="post"') == 1 and 'action="/accounts/logout/"' in body, url  # signing out only
        for form_url in FORM_PAGES:
            assert f'href="{form_url}' not in body, (url, form_url)
    history = text(client.get(history_url("product", "sku-1")))
    assert "Inappropriate" in history and "Lift" not in history.replace("Lifted", "")
    assert "changing them is for support agents" in text(client.get(HOME))
    for url in FORM_PAGES:
        assert client.get(url).status_code == 403, url
    for url, data in posts(state):
        assert client.post(url, data).status_code == 403, url
    assert ListEntry.objects.count() == 1 and not PrivacyRequest.objects.exists()
    assert ListEntry.objects.get().lifted_at is None


@pytest.mark.parametrize("who", ["labeller", "outsider"])
def test_labellers_and_outsiders_get_403_everywhere(state, pages, who, request):
    client = pages(request.getfixturevalue(who))
    for url in [*READ_PAGES, f"/support/bulk/{state['bulk'].pk}/", *FORM_PAGES]:
        assert client.get(url).status_code == 403, url
    for url, data in posts(state):
        assert client.post(url, data).status_code == 403, url
    assert ListEntry.objects.count() == 1


def test_anonymous_visitors_are_sent_to_log_in(state, pages):
    client = pages()
    for url in [*READ_PAGES, f"/support/bulk/{state['bulk'].pk}/", *FORM_PAGES]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next="), url
    for url, data in posts(state):
        assert client.post(url, data).status_code == 302, url
    assert ListEntry.objects.count() == 1


def test_the_nav_links_to_support_for_those_who_read_the_lists(db, pages, agent, reviewer, labeller):
    link = 'href="/support/"'
    assert link in pages(agent).get("/models/").content.decode()
    assert link in pages(reviewer).get("/models/").content.decode()
    assert link not in pages(labeller).get("/models/").content.decode()


def test_every_form_needs_the_csrf_token(state, pages, agent):
    client = pages(agent, enforce_csrf_checks=True)
    for url, data in posts(state):
        assert client.post(url, data).status_code == 403, url
    assert ListEntry.objects.count() == 1
    for url in FORM_PAGES:
        assert 'name="csrfmiddlewaretoken"' in client.get(url).content.decode(), url
    page = client.get(history_url("product", "sku-1")).content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= 2  # the lift form and sign out
    assert 'name="csrfmiddlewaretoken"' in client.get(f"/support/bulk/{state['bulk'].pk}/").content.decode()


# --- the "Explain a decision" slot ------------------------------------------------------------------------


def _explain(request):
    return HttpResponse("explain")


# A URL configuration where support:explain exists, as it will once that page is built.
urlpatterns = [
    *(p for p in mlops_urls.urlpatterns if getattr(p, "namespace", None) != "support"),
    path("support/", include(([*support_urls.urlpatterns, path("explain/", _explain, name="explain")], "support"))),
]


def test_the_explain_slot_links_only_once_the_page_exists(surfaces, as_agent):
    has_explain = any(getattr(p, "name", None) == "explain" for p in support_urls.urlpatterns)
    pages_to_check = [HOME, history_url("customer", "cust-1")]
    if not has_explain:
        for url in pages_to_check:
            response = as_agent.get(url)
            assert response.status_code == 200 and "Explain a decision" not in text(response)
    with override_settings(ROOT_URLCONF=__name__):
        for url in pages_to_check:
            response = as_agent.get(url)
            assert response.status_code == 200 and 'href="/support/explain/' in response.content.decode()


@pytest.mark.parametrize(
    "path, heading, form_id, extra",
    [
        ("/support/blacklist/", "Blacklist an ID", "blacklist-form", None),
        ("/support/boost/", "Boost an ID", "boost-form", 'name="weight"'),
    ],
)
def test_each_entry_form_says_what_it_does(surfaces, as_agent, path, heading, form_id, extra):
    body = as_agent.get(path).content.decode()
    assert f"<title>{heading} · Support" in body and f"<h1>{heading}</h1>" in body
    assert f'id="{form_id}"' in body
    assert (extra in body) if extra else 'name="weight"' not in body
