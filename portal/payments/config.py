"""Which providers this portal pays with: the real ones configured in the environment, else the local
payment sandbox's test keys (fetched from it on first use, as a merchant downloads them from the console)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import requests

from core.payment_settings import PaymentSettings
from portal.payments.providers.alipay import AlipayProvider
from portal.payments.providers.base import Provider, ProviderError
from portal.payments.providers.registry import Builder, ProviderSet
from portal.payments.providers.wechat import WeChatPayProvider


def build_providers(pay: PaymentSettings, data_dir: Path) -> ProviderSet:
    if pay.wechat_configured or pay.alipay_configured:
        return ProviderSet(_real_builders(pay))
    if pay.sandbox_url:
        return ProviderSet({"sandbox": lambda: sandbox_providers(pay.sandbox_url, data_dir)})
    return ProviderSet({})


def _real_builders(pay: PaymentSettings) -> dict[str, Builder]:
    builders: dict[str, Builder] = {}
    if pay.wechat_configured:
        builders["wechat"] = lambda: {"wechat": _wechat(pay)}
    if pay.alipay_configured:
        builders["alipay"] = lambda: {"alipay": AlipayProvider(
            pay.alipay_appid, _read(pay.alipay_private_key_file), _read(pay.alipay_public_key_file),
            gateway=pay.alipay_gateway or None)}
    return builders


def _wechat(pay: PaymentSettings) -> WeChatPayProvider:
    Path(pay.wechat_cert_dir).mkdir(parents=True, exist_ok=True)
    public_key = _read(pay.wechat_public_key_file) if pay.wechat_public_key_file else None
    return WeChatPayProvider(pay.wechat_mchid, pay.wechat_appid, _read(pay.wechat_private_key_file),
                             pay.wechat_cert_serial_no, pay.wechat_apiv3_key, pay.wechat_cert_dir,
                             public_key=public_key, public_key_id=pay.wechat_public_key_id or None,
                             app_secret=pay.wechat_app_secret, oauth_url=pay.wechat_oauth_url,
                             api_url=pay.wechat_api_url)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ProviderError(f"key file {path}: {exc.strerror or exc}") from exc


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
                                    wechat["apiv3_key"], str(cert_dir), gateway=sandbox_url,
                                    # the sandbox stands in for the official account's sign-in too (JSAPI)
                                    app_secret=wechat.get("app_secret", ""), oauth_url=sandbox_url,
                                    api_url=sandbox_url),
        "alipay": AlipayProvider(alipay["appid"], alipay["app_private_key"], alipay["alipay_public_key"],
                                 gateway=f"{sandbox_url}/gateway.do"),
    }
