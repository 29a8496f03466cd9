"""The captive portal: OS probes, the gateway's redirect, the grant, sessions and the RFC 8908 API.

Flow: the phone's OS probes a known URL -> the gateway (or our DNS) sends it here -> before access is
granted the probe gets a 302 to the light app of the zone the positioner places the phone in (the
mall home when unsure) -> "Continue to the internet" on any page grants a session the gateway's way
-> from then on each probe gets its OS's exact "online" answer. If the store is down (the store
breaker, core/store_health.py, is open), probes and pages still answer at once (fail open) and the
shopper reaches a static page or the internet. On a Valkey Cluster each venue has its own breaker: a
shard that is down fails open only the venues on it.

Parts: wiring.py (init_captive: the parts put together on an app), landing.py (the one landing decision),
lane.py (probes, plain WSGI), views.py (Flask views), gateways.py (gateway adapters) with controller_api.py,
unifi.py, omada.py and smartzone.py (the grants that are controller calls) and wifidog.py (WiFiDog's one-time
tokens), sessions.py, probe_state.py, config.py (per-venue settings).

This file imports nothing: importing any part (`from portal.captive.config import PortalConfigStore`) runs it
first, and the views, which import half the host, would come with every part (tests/test_architecture.py counts
that as an import cycle)."""
