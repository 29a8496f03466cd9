"""A store that comes back empty (its data lost, or a failover to a replica that had not synced) while the probe lane
remembers its venue (portal/captive/landing.py VenueCheck): a phone the portal redirects to the mall home gets the
captive portal's fail-open page there, never "Page not found", and the venue is dropped from the memo, so the next
probes fail open at once. A venue this process never found still gets its 404."""

from __future__ import annotations

from urllib.parse import urlparse

PROBE = "/generate_204?venue=demo"


def test_a_venue_lost_from_the_store_fails_open(app, client, svc, demo):
    first = client.get(PROBE)
    assert first.status_code == 302 and urlparse(first.headers["Location"]).path == "/v/demo/"
    svc.db.flushdb()  # on a cluster: every primary
    redirected = client.get(PROBE)  # still remembered as found: no round trip on the probe's path
    landing = client.get(redirected.headers["Location"])
    assert landing.status_code == 200 and b"continue-internet" in landing.data  # the fail-open page, not a 404
    again = client.get(PROBE)
    assert again.status_code == 302 and urlparse(again.headers["Location"]).path == "/offline"
    assert client.get("/v/demo/").status_code == 200  # still the fail-open page for a phone that comes back


def test_a_venue_never_found_here_is_still_a_404(client, demo):
    assert client.get("/v/nosuchmall/").status_code == 404
    assert client.get(PROBE.replace("demo", "nosuchmall")).status_code == 404


def test_a_zones_404_in_a_venue_still_there_is_a_404(client, demo):
    assert client.get(PROBE).status_code == 302  # the venue is found
    assert client.get("/v/demo/zone/nosuchzone").status_code == 404
