"""Refused, missing and failed pages are Keel pages: the site's navigation, what happened, why (for a
403, the role that is needed) and a link back home; never Django's bare or debug pages."""

from django.urls import reverse

from mlops.views import server_error

HOME_LINK = 'href="/">Back to Keel'
NAVIGATION = 'aria-label="Main"'


def test_a_page_the_role_does_not_allow_says_which_role_is_needed(client_as, labeller):
    response = client_as(labeller).get(reverse("promotions:queue"))

    html = response.content.decode()
    assert response.status_code == 403
    assert "Not allowed" in html
    assert "This needs the reviewers or pipelines role." in html
    assert NAVIGATION in html and HOME_LINK in html


def test_an_account_without_a_keel_role_is_told_a_role_is_needed(client_as, outsider):
    response = client_as(outsider).get(reverse("registry:model-list"))

    html = response.content.decode()
    assert response.status_code == 403
    assert "role." in html and "reviewers" in html
    assert HOME_LINK in html


def test_an_address_nothing_answers_is_a_keel_404_page(client_as, reviewer):
    response = client_as(reviewer).get("/models/no-such-model/versions/9/nothing-here")

    html = response.content.decode()
    assert response.status_code == 404
    assert "Not found" in html and "/models/no-such-model/versions/9/nothing-here" in html
    assert NAVIGATION in html and HOME_LINK in html
    assert "URLconf" not in html


def test_a_failed_page_is_a_keel_500_page(rf):
    response = server_error(rf.get("/models/"))

    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in html and "logged" in html
    assert HOME_LINK in html and "keel.css" in html
