"""One rule for what is a MAC: the client's (core.security.normalise_mac), an AP's (fingerprints.model.normalise_bssid,
which the gateways read the AP parameter with) and a dataset's AP column (positioning.datasets._ap_key, which may not
import core and so keeps its own copy of the rule). Before, the AP parser took `aa:bb-cc.dd:ee:ff` and `..aabbccddeeff.`
that the client's refused and the dataset reader kept as names: one radio, two identities."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.security import normalise_mac
from fingerprints.model import normalise_bssid
from portal.captive.gateways import gateway_macs
from positioning.datasets import _ap_key

MAC = "3c:22:fb:9a:10:2e"
# What gateways and vendor feeds send: colons (Meraki, Cisco WLC, UniFi), dashes (CoovaChilli), Cisco IOS's dotted
# groups of four, Huawei's and H3C's dashed groups of four, bare hex; either case; spaces round it.
GOOD = ("3c:22:fb:9a:10:2e", "3C-22-FB-9A-10-2E", "3c22fb9a102e", "3C22FB9A102E", "3c22.fb9a.102e", "3C22.FB9A.102E",
        "3c22-fb9a-102e", "3C:22:fb:9A:10:2e", " 3c:22:fb:9a:10:2e\n")
BAD = ("aa:bb-cc.dd:ee:ff", "a:abbccddee:ff", "..aabbccddeeff.", "3c22.fb9a.102", "3c22.fb9a:102e", "3c22fb.9a102e",
       "3c22.fb9a-102e", "3c:22:fb:9a:10", "3c22.fb9a.102e.0000", "3c:22:fb:9a:10:2e:00", "3c:22:fb:9a:102e",
       "3c:22:fb:9a:10:2g", "3c 22 fb 9a 10 2e", "3c2:2fb:9a1:02e", "3c22fb-9a102e", "", "WAP001", "ap-east-1")


def _verdicts(raw: str) -> tuple[str | None, str | None, str]:
    def parsed(parse) -> str | None:
        try:
            return parse(raw)
        except ValueError:
            return None

    return parsed(normalise_mac), parsed(normalise_bssid), _ap_key(raw)


def _agree(raw: str) -> str | None:
    mac, bssid, column = _verdicts(raw)
    assert bssid == mac, raw
    assert column == (mac or raw.strip().lower()), raw  # a column that is no MAC keeps its name
    return mac


@pytest.mark.parametrize("raw", GOOD)
def test_every_form_a_gateway_sends_is_the_same_mac_to_all_three(raw):
    assert _agree(raw) == MAC


@pytest.mark.parametrize("raw", BAD)
def test_what_one_refuses_none_takes(raw):
    assert _agree(raw) is None


@pytest.mark.parametrize("raw", GOOD + BAD)
def test_a_gateway_reads_the_phone_and_its_ap_in_one_notation_alike(raw):
    client, ap = gateway_macs({"client_mac": raw, "ap_mac": raw})
    assert (client is None) == (ap is None), (client, ap)


_HEX = "0123456789abcdefABCDEF"


@st.composite
def mac_shaped(draw) -> str:
    """Twelve hex digits in runs of one to four, each gap one of the separators or none: the usual forms and
    every mix of them."""
    digits = draw(st.text(_HEX, min_size=10, max_size=14))
    out, i = "", 0
    while i < len(digits):
        run = draw(st.integers(1, 4))
        out += digits[i:i + run] + draw(st.sampled_from(["", ":", "-", ".", " "]))
        i += run
    return draw(st.sampled_from(["", " ", "."])) + out


@given(st.one_of(mac_shaped(), st.text(_HEX + ":.- \t\nxg", max_size=20), st.text(max_size=20)))
def test_the_three_agree_on_any_input(raw):
    _agree(raw)


def test_not_a_string_is_not_a_mac():
    for parse in (normalise_mac, normalise_bssid):
        with pytest.raises(ValueError):
            parse(None)  # type: ignore[arg-type]
