"""A form's one-time record is named by its token and what it says (portal.apps.once.read_form_once): a double
tap (the same content) names the same record; the token resent with other content (back, edit, send) another."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from portal.apps.once import read_form_once

TOKEN = "form-token-0123456789"


def test_the_same_content_in_any_order_names_one_record_and_other_content_another():
    sent = read_form_once(MultiDict([("nonce", TOKEN), ("film_en", "A"), ("hall", "1"), ("csrf_token", "c1")]))
    assert sent and sent.startswith(TOKEN + ".")
    again = MultiDict([("hall", "1"), ("csrf_token", "c2"), ("film_en", "A"), ("nonce", TOKEN)])
    assert read_form_once(again) == sent  # the CSRF token is the session's, not what the form says
    assert read_form_once(MultiDict([("nonce", TOKEN), ("film_en", "B"), ("hall", "1")])) != sent
    assert read_form_once(MultiDict([("nonce", TOKEN), ("film_en", "A"), ("hall", "1"), ("hall", "2")])) != sent


def test_no_token_or_not_one_of_ours_is_a_form_without_one():
    assert read_form_once(MultiDict([("film_en", "A")])) is None
    assert read_form_once(MultiDict([("nonce", "x"), ("film_en", "A")])) is None
