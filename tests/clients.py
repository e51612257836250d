"""Helpers for Django's test clients shared by the page tests: a page's HTML, one section of it, and a
client whose every request runs the on_commit callbacks it queued."""

import re


def page(client, url) -> str:
    """The HTML of the page at `url`, which must answer 200."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def section(html: str, heading_id: str) -> str:
    """The <section> whose heading has this id."""
    match = re.search(r'<section[^>]* aria-labelledby="' + heading_id + r'">.*?</section>', html, re.S)
    assert match, f"no section {heading_id}"
    return match.group(0)


def committing(client, capture):
    """`client`, each request of which runs in `capture(execute=True)` (pytest-django's
    django_capture_on_commit_callbacks): what a request queues on commit runs before it returns."""
    send = client.request

    def request(**kwargs):
        with capture(execute=True):
            return send(**kwargs)

    client.request = request
    return client
