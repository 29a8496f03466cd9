"""Values sealed before PhoneVault and Sealer shared one primitive still open (made by the old code)."""

import pytest

from core.security import PhoneVault, Sealer, b64url, unb64url

OLD_PHONE = "VZu0pkB_nN4gxh5fkPfHWo9TieLuRp4vYOH06dMm2Q43AI1FlQINXlPy"  # PhoneVault("test-phone-key")
OLD_SEALED = "LrZuAKWGRpoFHp8BJBMNSoN_FaTFdWHRtCbwhTpnQl8GqLA3uF0"  # Sealer("test-secret", handout), for b"v1"


def test_old_sealed_values_still_open():
    vault = PhoneVault("test-phone-key")
    assert vault.open(OLD_PHONE) == "+8613800138000"
    assert vault.open(vault.seal("+8613800138000")) == "+8613800138000"
    sealer = Sealer("test-secret", b"mallportal shopper handout")
    assert sealer.open(unb64url(OLD_SEALED), b"v1") == b"plain text"
    assert b64url(unb64url(OLD_SEALED)) == OLD_SEALED
    with pytest.raises(ValueError):
        sealer.open(unb64url(OLD_SEALED), b"v2")
    with pytest.raises(ValueError):
        PhoneVault("another-key").open(OLD_PHONE)
