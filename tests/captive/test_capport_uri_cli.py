"""`flask capport-uri VENUE MAC`: the per-client RFC 8908 URI a DHCP server's hook hands out (option 114), answered
by /capport/api/<token> for that phone; and `flask portal-config` writes nothing for a venue that does not exist."""

import json
from urllib.parse import parse_qs, urlparse

import pytest

from portal import create_app

PORTAL_URL = "https://portal.mall.example"
PHONE, OTHER_PHONE = "02:00:5e:00:53:61", "02-00-5E-00-53-62"


@pytest.fixture
def public(settings, demo):
    """The app as deployed (PORTAL_URL set), on the demo mall's store."""
    return create_app(settings.with_(portal_url=PORTAL_URL))


def capport_uri(app, *args: str):
    return app.test_cli_runner().invoke(args=["capport-uri", *args])


def unsigned(uri: str) -> str:
    """A URI without its token's signing time and signature (itsdangerous: payload.timestamp.signature)."""
    return uri.rsplit(".", 2)[0]


def test_the_printed_uri_answers_for_that_phone(public, svc):
    done = capport_uri(public, "demo", PHONE)
    assert done.exit_code == 0, done.output
    uri = done.output.strip()
    assert uri.startswith(PORTAL_URL + "/capport/api/") and "\n" not in uri and len(uri.encode()) <= 255
    assert PHONE not in uri and PHONE.replace(":", "") not in uri  # names the phone, never its MAC
    phone = public.test_client()
    before = phone.get(urlparse(uri).path)
    assert before.status_code == 200 and before.mimetype == "application/captive+json"
    body = json.loads(before.data)
    token = urlparse(uri).path.rsplit("/", 1)[1]
    assert body["captive"] is True and parse_qs(urlparse(body["user-portal-url"]).query)["capport"] == [token]
    with public.app_context():
        public.extensions["captive"].sessions.grant("demo", svc.hasher.client_id(PHONE), 600, "direct")
    assert json.loads(phone.get(urlparse(uri).path).data)["captive"] is False  # that phone's session, no other's
    other = capport_uri(public, "demo", OTHER_PHONE).output.strip()
    assert other != uri and json.loads(phone.get(urlparse(other).path).data)["captive"] is True


@pytest.mark.parametrize(("args", "words"), [
    (["nroth", PHONE], "unknown venue 'nroth'"),
    (["Bad Venue", PHONE], "unknown venue 'Bad Venue'"),
    (["demo", "not-a-mac"], "'not-a-mac' is not a MAC address"),
])
def test_a_wrong_venue_or_mac_is_refused(public, args, words):
    done = capport_uri(public, *args)
    assert done.exit_code == 2 and words in done.output and PORTAL_URL not in done.output


def test_without_portal_url_it_prints_no_uri(app, demo):
    """The URI a phone is handed must be on the portal's public address, not on a host the command made up."""
    done = capport_uri(app, "demo", PHONE)
    assert done.exit_code == 2 and "set PORTAL_URL" in done.output and "/capport/api/" not in done.output


@pytest.mark.parametrize("venue", ["nroth", "Bad Venue"])
def test_portal_config_writes_nothing_for_a_venue_that_does_not_exist(app, demo, svc, venue):
    done = app.test_cli_runner().invoke(args=["portal-config", venue, "time_zone=Europe/Madrid"])
    assert done.exit_code == 2 and f"unknown venue {venue!r}" in done.output and "updated" not in done.output
    assert [key for key in svc.db.scan_iter(count=1000) if venue.encode() in key] == []
    listed = app.test_cli_runner().invoke(args=["portal-config", venue])
    assert listed.exit_code == 2 and "time_zone" not in listed.output
    assert "updated time_zone" in app.test_cli_runner().invoke(args=["portal-config", "demo",
                                                                     "time_zone=Europe/Madrid"]).output


def test_several_macs_are_answered_a_line_each_and_one_bad_mac_prints_none(public):
    done = capport_uri(public, "demo", PHONE, OTHER_PHONE)
    assert done.exit_code == 0, done.output
    uris = done.output.splitlines()
    assert len(uris) == 2 and uris[0] != uris[1] and all(u.startswith(PORTAL_URL + "/capport/api/") for u in uris)
    refused = capport_uri(public, "demo", PHONE, "not-a-mac")
    assert refused.exit_code == 2 and "/capport/api/" not in refused.output  # a hook reads the lines by position


def test_a_hook_keeps_one_process_and_feeds_it_macs_on_stdin(public):
    """`-`: a line answered for each line read, an empty one (and a warning) for a line that is not a MAC, so a
    lease hook's answers keep pace with its questions."""
    runner = public.test_cli_runner()
    done = runner.invoke(args=["capport-uri", "demo", "-"], input=f"{PHONE}\nnot-a-mac\n{OTHER_PHONE}\n")
    assert done.exit_code == 0, done.output
    lines = done.stdout.split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""
    # the same phone's URI as the one-MAC form prints: the same payload (the signing time may be a second later)
    assert unsigned(lines[0]) == unsigned(capport_uri(public, "demo", PHONE).output.strip())
    assert public.test_client().get(urlparse(lines[0]).path).status_code == 200  # and its signature holds
    assert lines[2].startswith(PORTAL_URL + "/capport/api/") and lines[2] != lines[0]
    assert "line 2 is not a MAC address" in done.stderr and "not-a-mac" not in done.stderr  # never echoed: logs
