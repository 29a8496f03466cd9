"""Which keys WeChat Pay's signatures (callbacks and API answers) are checked against, in place of the
`wechatpayv3` SDK's own check. For a `Wechatpay-Serial` it does not know, the SDK (2.0.4) empties its platform
certificate list and downloads /v3/certificates again, at every such request, with no lock: an unsigned POST to
the callback URL made the portal call WeChat Pay, and a failed or slow download left genuine callbacks without
a certificate to check them against. Here a serial is the WeChat Pay public key's id (微信支付公钥,
PUB_KEY_ID_...) or a platform certificate's we hold; an unknown one may start one download per REFRESH_S, one at a
time, whose list replaces the old one only once it arrived."""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from wechatpayv3.core import Core
from wechatpayv3.utils import load_certificate, rsa_verify

log = logging.getLogger(__name__)
REFRESH_S = 300.0  # an unknown serial downloads the certificates again at most this often
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
_SERIAL = re.compile(r"[0-9A-Fa-f]{1,64}")  # a certificate serial in hex, as WeChat Pay sends it


class SignatureKeys:
    """Installed on the SDK's Core: its signature check and its certificate download go through here."""

    def __init__(self, core: Core, refresh_s: float = REFRESH_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._core = core
        self._refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._next_refresh = 0.0
        self.refreshes = 0  # downloads started (for tests and logs)
        core._verify_signature = self.verify
        core._update_certificates = self.refresh

    def load_saved(self, cert_dir: str) -> None:
        """Public-key mode: the SDK loads no certificate, but a merchant switching over may still get callbacks
        signed with a platform certificate it downloaded before (WeChat Pay signs with either meanwhile)."""
        now = datetime.now(UTC)
        saved = [load_certificate(p.read_text()) for p in Path(cert_dir).glob("*.pem")] if cert_dir else []
        self._core._certificates = [c for c in saved if c and c.not_valid_before_utc <= now <= c.not_valid_after_utc]

    def verify(self, headers, body: str) -> bool:
        if headers.get("Wechatpay-Signature-Type") != SIGNATURE_TYPE:
            return False
        key = self._key(headers.get("Wechatpay-Serial", ""))
        stamp, nonce = headers.get("Wechatpay-Timestamp", ""), headers.get("Wechatpay-Nonce", "")
        return key is not None and rsa_verify(stamp, nonce, body, headers.get("Wechatpay-Signature", ""), key)

    def _key(self, serial: str):
        core = self._core
        if core._public_key_id and serial == core._public_key_id:
            return core._public_key
        if not _SERIAL.fullmatch(serial):
            return None
        cert = self._certificate(int(serial, 16))
        if cert is None:
            self.refresh()
            cert = self._certificate(int(serial, 16))  # another caller's download may have brought it
        return cert.public_key() if cert else None

    def _certificate(self, number: int) -> x509.Certificate | None:
        return next((c for c in self._core._certificates if c.serial_number == number), None)

    def refresh(self) -> bool:
        """Download the platform certificates, unless one was tried less than refresh_s ago. The SDK's own
        download (its decryption and validity check) fills a copy of the Core, so that the list in use stays
        whole until the new one arrived; a failed download keeps it."""
        with self._lock:
            now = self._clock()
            if now < self._next_refresh:
                return False
            self._next_refresh = now + self._refresh_s
            self.refreshes += 1
            scratch = copy.copy(self._core)
            scratch._certificates = []
            try:
                Core._update_certificates(scratch)
            except Exception as exc:  # noqa: BLE001 - network errors, a malformed answer
                log.warning("WeChat Pay certificate download failed: %s: %s", exc.__class__.__name__, exc)
                return False
            if not scratch._certificates:
                log.warning("WeChat Pay certificate download brought no valid certificate: the old ones are kept")
                return False
            self._core._certificates = scratch._certificates
            return True
