"""Which providers this portal pays with: the real ones configured in the environment, else the local
payment sandbox's test keys (fetched from it on first use, as a merchant downloads them from the console)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import requests

from core.payment_settings import PaymentSettings
from portal.payments.providers.alipay import AlipayProvider
from portal.payments.providers.base import Provider, ProviderError
from portal.payments.providers.wechat import WeChatPayProvider


def build_providers(pay: PaymentSettings, data_dir: Path) -> dict[str, Provider]:
    if pay.wechat_configured or pay.alipay_configured:
        return _real_providers(pay)
    if pay.sandbox_url:
        return sandbox_providers(pay.sandbox_url, data_dir)
    return {}


def _real_providers(pay: PaymentSettings) -> dict[str, Provider]:
    providers: dict[str, Provider] = {}
    if pay.wechat_configured:
        Path(pay.wechat_cert_dir).mkdir(parents=True, exist_ok=True)
        providers["wechat"] = WeChatPayProvider(
            pay.wechat_mchid, pay.wechat_appid, Path(pay.wechat_private_key_file).read_text(),
            pay.wechat_cert_serial_no, pay.wechat_apiv3_key, pay.wechat_cert_dir)
    if pay.alipay_configured:
        providers["alipay"] = AlipayProvider(
            pay.alipay_appid, Path(pay.alipay_private_key_file).read_text(),
            Path(pay.alipay_public_key_file).read_text(), gateway=pay.alipay_gateway or None)
    return providers


def sandbox_providers(sandbox_url: str, data_dir: Path) -> dict[str, Provider]:
    try:
        answer = requests.get(f"{sandbox_url}/sandbox/credentials.json", timeout=10)
        answer.raise_for_status()
        cred = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderError(f"payment sandbox at {sandbox_url} unreachable: {exc.__class__.__name__}") from exc
    wechat, alipay = cred["wechat"], cred["alipay"]
    # The platform certificate goes where a merchant's certificate downloader would put it; one folder per
    # sandbox start (its keys are new each time).
    cert_dir = data_dir / "paysandbox" / hashlib.sha256(wechat["platform_cert"].encode()).hexdigest()[:16]
    cert_dir.mkdir(parents=True, exist_ok=True)
    (cert_dir / f"{wechat['platform_serial']}.pem").write_text(wechat["platform_cert"])
    return {
        "wechat": WeChatPayProvider(wechat["mchid"], wechat["appid"], wechat["private_key"], wechat["cert_serial_no"],
                                    wechat["apiv3_key"], str(cert_dir), gateway=sandbox_url),
        "alipay": AlipayProvider(alipay["appid"], alipay["app_private_key"], alipay["alipay_public_key"],
                                 gateway=f"{sandbox_url}/gateway.do"),
    }
