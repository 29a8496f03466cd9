"""The sandbox's own test keys, generated at every start: nothing here is a real credential.

WeChat Pay: the merchant's API key pair and certificate serial (the merchant uploads the public half),
the platform's key pair and self-signed certificate (what signs responses and callbacks), WeChat Pay's
public key pair and its PUB_KEY_ID_... (what signs them instead in public-key mode), the APIv3 key
(AES-256-GCM of callback resources and of /v3/certificates), the official account's AppSecret (JSAPI's
sign-in). Alipay: the app's key pair (the app signs requests) and Alipay's key pair (Alipay signs responses and
notifications)."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.x509.oid import NameOID


def new_rsa() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(key: RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def self_signed(key: RSAPrivateKey, common_name: str, days: int = 365) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days)).sign(key, hashes.SHA256()))


@dataclass
class SandboxKeys:
    wechat_mchid: str
    wechat_appid: str
    wechat_merchant_key: RSAPrivateKey
    wechat_merchant_serial: str
    wechat_platform_key: RSAPrivateKey
    wechat_platform_cert: x509.Certificate
    wechat_apiv3_key: str
    wechat_public_key: RSAPrivateKey  # WeChat Pay's public key pair (微信支付公钥), signing in public-key mode
    wechat_public_key_id: str
    alipay_appid: str
    alipay_app_key: RSAPrivateKey
    alipay_key: RSAPrivateKey
    wechat_app_secret: str = ""  # the official account's AppSecret (appid's): JSAPI's sign-in code exchange

    @property
    def wechat_platform_serial(self) -> str:
        return format(self.wechat_platform_cert.serial_number, "X")

    @classmethod
    def generate(cls) -> SandboxKeys:
        alphabet = string.ascii_letters + string.digits
        platform_key = new_rsa()
        return cls(
            wechat_mchid="19" + "".join(secrets.choice(string.digits) for _ in range(8)),
            wechat_appid="wx" + secrets.token_hex(8),
            wechat_merchant_key=new_rsa(),
            wechat_merchant_serial=secrets.token_hex(20).upper(),
            wechat_platform_key=platform_key,
            wechat_platform_cert=self_signed(platform_key, "Tenpay.com Root CA (sandbox)"),
            wechat_apiv3_key="".join(secrets.choice(alphabet) for _ in range(32)),
            wechat_public_key=new_rsa(),
            wechat_public_key_id="PUB_KEY_ID_" + "".join(secrets.choice(string.digits) for _ in range(32)),
            alipay_appid="2021" + "".join(secrets.choice(string.digits) for _ in range(12)),
            alipay_app_key=new_rsa(),
            alipay_key=new_rsa(),
            wechat_app_secret=secrets.token_hex(16),
        )

    def merchant_credentials(self) -> dict:
        """What a merchant would hold after signing up: served at /sandbox/credentials.json."""
        return {
            "wechat": {
                "mchid": self.wechat_mchid, "appid": self.wechat_appid,
                "private_key": private_pem(self.wechat_merchant_key), "cert_serial_no": self.wechat_merchant_serial,
                "apiv3_key": self.wechat_apiv3_key,
                "platform_cert": self.wechat_platform_cert.public_bytes(serialization.Encoding.PEM).decode(),
                "platform_serial": self.wechat_platform_serial,
                "public_key": public_pem(self.wechat_public_key), "public_key_id": self.wechat_public_key_id,
                "app_secret": self.wechat_app_secret,
            },
            "alipay": {
                "appid": self.alipay_appid, "app_private_key": private_pem(self.alipay_app_key),
                "alipay_public_key": public_pem(self.alipay_key),
            },
        }
