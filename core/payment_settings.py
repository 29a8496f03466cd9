"""The payment settings (part of Settings, read once from the environment with it).

WeChat Pay API v3: WECHATPAY_MCHID, WECHATPAY_APPID, WECHATPAY_CERT_SERIAL_NO (the merchant API
certificate's serial), WECHATPAY_PRIVATE_KEY_FILE (apiclient_key.pem), WECHATPAY_APIV3_KEY, and
WECHATPAY_CERT_DIR (platform certificates; downloaded into it when empty). A merchant on WeChat Pay's public key
(微信支付公钥: every merchant since late 2024, which gets no platform certificate) sets WECHATPAY_PUBLIC_KEY_FILE
(pub_key.pem) and WECHATPAY_PUBLIC_KEY_ID (PUB_KEY_ID_...): both or neither; during a switch from certificates the
certificates still in WECHATPAY_CERT_DIR are accepted too. WeChat Pay JSAPI (paying inside WeChat's own browser)
needs the shopper's openid under WECHATPAY_APPID, an official account's: its AppSecret is WECHAT_APP_SECRET (a
secret: kept out of repr and logs; unset, no JSAPI), and WECHAT_OAUTH_URL / WECHAT_API_URL (default WeChat's
https://open.weixin.qq.com and https://api.weixin.qq.com) are where its sign-in and code exchange go.
Alipay: ALIPAY_APPID,
ALIPAY_PRIVATE_KEY_FILE (the app's private key), ALIPAY_PUBLIC_KEY_FILE (Alipay's public key),
ALIPAY_GATEWAY (optional: Alipay's own sandbox gateway). With neither configured, PAY_SANDBOX_URL names the
local payment sandbox (`python -m portal paysandbox`, started by `make run` on PAY_SANDBOX_PORT)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

WECHAT_OAUTH_URL = "https://open.weixin.qq.com"  # the official account's web sign-in (snsapi_base)
WECHAT_API_URL = "https://api.weixin.qq.com"  # where its code is exchanged for the shopper's openid
SANDBOX_PORT_OFFSET = 10  # the sandbox's port above the portal's: 8010 beside the default 8000


def sandbox_port(env: Mapping[str, str]) -> int:
    """Where `make run` starts the payment sandbox: PAY_SANDBOX_PORT, else the portal's PORT + 10 (8010 by
    default), so a second instance on another PORT gets a sandbox of its own instead of a port already taken
    (its sandbox would not start, and its portal would pay through the first instance's sandbox)."""
    raw = env.get("PAY_SANDBOX_PORT") or str(int(env.get("PORT") or 8000) + SANDBOX_PORT_OFFSET)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"environment variable PAY_SANDBOX_PORT must be a port number, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class PaymentSettings:
    sandbox_url: str = ""
    sandbox_port: int = 8000 + SANDBOX_PORT_OFFSET  # where `make run` starts the sandbox (`sandbox_port`)
    wechat_mchid: str = ""
    wechat_appid: str = ""
    wechat_cert_serial_no: str = ""
    wechat_private_key_file: str = ""
    wechat_apiv3_key: str = field(default="", repr=False)
    wechat_cert_dir: str = ""
    wechat_public_key_file: str = ""  # WeChat Pay's public key (pub_key.pem), with its id
    wechat_public_key_id: str = ""
    wechat_app_secret: str = field(default="", repr=False)  # the official account's AppSecret (JSAPI's openid)
    wechat_oauth_url: str = WECHAT_OAUTH_URL
    wechat_api_url: str = WECHAT_API_URL
    alipay_appid: str = ""
    alipay_private_key_file: str = ""
    alipay_public_key_file: str = ""
    alipay_gateway: str = ""
    order_ttl_s: int = 15 * 60  # an unpaid order without a purpose's own deadline closes after this

    @property
    def wechat_configured(self) -> bool:
        return bool(self.wechat_mchid and self.wechat_private_key_file and self.wechat_apiv3_key)

    @property
    def alipay_configured(self) -> bool:
        return bool(self.alipay_appid and self.alipay_private_key_file and self.alipay_public_key_file)

    @property
    def enabled(self) -> bool:
        return self.wechat_configured or self.alipay_configured or bool(self.sandbox_url)

    @classmethod
    def from_env(cls, env: dict[str, str], data_dir: Path) -> PaymentSettings:
        ttl = env.get("PAY_ORDER_TTL_S") or ""
        if ttl and not ttl.isdigit():
            raise ValueError(f"environment variable PAY_ORDER_TTL_S must be an integer, got {ttl!r}")
        public_key_file = env.get("WECHATPAY_PUBLIC_KEY_FILE", "")
        public_key_id = env.get("WECHATPAY_PUBLIC_KEY_ID", "")
        if bool(public_key_file) != bool(public_key_id):
            raise ValueError("environment variables WECHATPAY_PUBLIC_KEY_FILE and WECHATPAY_PUBLIC_KEY_ID go together: "
                             "set both (WeChat Pay's public key and its PUB_KEY_ID_...) or neither")
        for name in ("WECHAT_OAUTH_URL", "WECHAT_API_URL"):
            if (url := env.get(name) or "") and not url.startswith(("https://", "http://")):
                raise ValueError(f"environment variable {name} must be an http(s) URL, got {url!r}")
        return cls(
            sandbox_url=(env.get("PAY_SANDBOX_URL") or "").rstrip("/"),
            sandbox_port=sandbox_port(env),
            wechat_mchid=env.get("WECHATPAY_MCHID", ""),
            wechat_appid=env.get("WECHATPAY_APPID", ""),
            wechat_cert_serial_no=env.get("WECHATPAY_CERT_SERIAL_NO", ""),
            wechat_private_key_file=env.get("WECHATPAY_PRIVATE_KEY_FILE", ""),
            wechat_apiv3_key=env.get("WECHATPAY_APIV3_KEY", ""),
            wechat_cert_dir=env.get("WECHATPAY_CERT_DIR") or str(data_dir / "wechatpay-certs"),
            wechat_public_key_file=public_key_file,
            wechat_public_key_id=public_key_id,
            wechat_app_secret=env.get("WECHAT_APP_SECRET", ""),
            wechat_oauth_url=(env.get("WECHAT_OAUTH_URL") or WECHAT_OAUTH_URL).rstrip("/"),
            wechat_api_url=(env.get("WECHAT_API_URL") or WECHAT_API_URL).rstrip("/"),
            alipay_appid=env.get("ALIPAY_APPID", ""),
            alipay_private_key_file=env.get("ALIPAY_PRIVATE_KEY_FILE", ""),
            alipay_public_key_file=env.get("ALIPAY_PUBLIC_KEY_FILE", ""),
            alipay_gateway=env.get("ALIPAY_GATEWAY", ""),
            order_ttl_s=int(ttl) if ttl else 15 * 60,
        )
