import hashlib

import pytest

from mlops.etags import etag_for, etag_matches

TAG = '"abc123"'


@pytest.mark.parametrize(
    "header",
    [
        '"abc123"',
        'W/"abc123"',
        ' "abc123" ',
        '"other", "abc123"',
        '"other",W/"abc123"',
        "*",
        " * ",
        '"other", *',
    ],
)
def test_a_header_naming_the_tag_matches(header):
    assert etag_matches(header, TAG)


def test_a_weak_tag_of_ours_matches_its_strong_and_weak_forms():
    assert etag_matches('"abc123"', 'W/"abc123"')
    assert etag_matches('W/"abc123"', 'W/"abc123"')


@pytest.mark.parametrize(
    "header", [None, "", '"abc124"', '"abc"', "abc123", '"other", "more"', '"abc123', 'W/"abc1234"']
)
def test_a_header_not_naming_the_tag_does_not_match(header):
    assert not etag_matches(header, TAG)


def test_an_etag_is_the_quoted_sha256_prefix_of_the_payload():
    payload = b'{"production": null}'
    digest = hashlib.sha256(payload).hexdigest()
    assert etag_for(payload) == f'"{digest[:32]}"'
    assert etag_for(payload, length=16) == f'"{digest[:16]}"'
    assert etag_for(payload) != etag_for(payload + b" ")
