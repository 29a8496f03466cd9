"""WeChat Pay's signature keys: public-key mode (微信支付公钥, PUB_KEY_ID_..., no platform certificate at all:
/v3/certificates answers 404) and a switch over from certificates; unsigned callbacks with made-up serials
neither make the portal call WeChat Pay at every request nor leave it without its certificates; a provider whose
set-up fails leaves the other one working and is tried again after a back-off, not at every page."""

from __future__ import annotations

import json
import secrets

import pytest
import requests

from core.payment_settings import PaymentSettings
from portal.payments import config
from portal.payments.providers import registry
from portal.payments.providers.base import ProviderError
from portal.payments.providers.registry import ProviderSet
from portal.payments.providers.wechat import WeChatPayProvider
from tests.payments.test_payments_sdk import VENUE, new_order, pay_without_callback, start


@pytest.fixture
def public_key_mode(pay, sandbox, monkeypatch, tmp_path):
    """The portal's WeChat Pay set up with WeChat Pay's public key (cert_dir empty), the sandbox signing with it."""
    box, sandbox_url = sandbox
    cred = box.keys.merchant_credentials()["wechat"]
    box.wechat_signer = "public_key"
    try:
        wechat = WeChatPayProvider(cred["mchid"], cred["appid"], cred["private_key"], cred["cert_serial_no"],
                                   cred["apiv3_key"], str(tmp_path), gateway=sandbox_url,
                                   public_key=cred["public_key"], public_key_id=cred["public_key_id"])
        monkeypatch.setattr(pay, "_providers", ProviderSet.of({**pay.providers(), "wechat": wechat}))
        yield wechat
    finally:
        box.wechat_signer = "certificate"


def test_public_key_mode_pays_and_books_callbacks(pay, pay_portal, sandbox, public_key_mode):
    box, sandbox_url = sandbox
    order = new_order(pay)
    start(pay, pay_portal[1], order, "wechat", "native")  # the answer is signed with the public key
    pay_without_callback(box, sandbox_url, "wechat", order.id)
    headers, _body = box.notification(box.trade("wechat", order.id))
    assert headers["Wechatpay-Serial"].startswith("PUB_KEY_ID_")
    assert box.notify(box.trade("wechat", order.id)) == 200
    assert pay.order(VENUE, order.id).status == "paid"
    assert pay.refund(VENUE, order.id, order.amount, "all") == "done"
    assert public_key_mode.keys.refreshes == 0  # nothing asked of /v3/certificates


def test_a_switch_over_accepts_the_certificate_it_still_holds(pay, pay_portal, sandbox, tmp_path):
    """During the switch WeChat Pay signs with either: the certificate downloaded before still verifies."""
    box, sandbox_url = sandbox
    cred = box.keys.merchant_credentials()["wechat"]
    (tmp_path / f"{cred['platform_serial']}.pem").write_text(cred["platform_cert"])
    wechat = WeChatPayProvider(cred["mchid"], cred["appid"], cred["private_key"], cred["cert_serial_no"],
                               cred["apiv3_key"], str(tmp_path), gateway=sandbox_url,
                               public_key=cred["public_key"], public_key_id=cred["public_key_id"])
    for signer in ("certificate", "public_key"):
        box.wechat_signer = signer
        try:
            headers = box.wechat_signature_headers('{"a":1}')
        finally:
            box.wechat_signer = "certificate"
        assert wechat.keys.verify(headers, '{"a":1}') and not wechat.keys.verify(headers, '{"a":2}')
    assert wechat.keys.refreshes == 0


def _junk(serial: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Wechatpay-Timestamp": "1", "Wechatpay-Nonce": "n",
            "Wechatpay-Signature": "AAAA", "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            "Wechatpay-Serial": serial}


def test_made_up_serials_neither_call_wechat_each_time_nor_empty_the_certificates(pay, pay_portal, sandbox,
                                                                                 monkeypatch):
    box, sandbox_url = sandbox
    url = pay_portal[1]
    wechat = pay.providers()["wechat"]
    core = wechat._pay._core
    fetches = []
    real_request = core.request

    def counting(path, *args, **kwargs):
        if path == "/v3/certificates":
            fetches.append(path)
            if failing:
                return 429, '{"code":"FREQUENCY_LIMITED"}'
        return real_request(path, *args, **kwargs)

    failing = False
    monkeypatch.setattr(core, "request", counting)
    body = json.dumps({"id": "x", "event_type": "TRANSACTION.SUCCESS", "resource_type": "encrypt-resource",
                       "resource": {}})
    serials = [secrets.token_hex(20).upper() for _ in range(20)] + ["PUB_KEY_ID_0114", "0x1_2", "", "ZZ"]
    for serial in serials:
        answer = requests.post(f"{url}/pay/notify/wechat/{VENUE}", data=body, headers=_junk(serial), timeout=30)
        assert answer.status_code >= 400 and answer.json()["code"] == "FAIL"
    assert len(fetches) <= 1  # one download at most per REFRESH_S, however many made-up serials
    # The next download allowed fails (WeChat Pay throttles it): the certificates held are kept.
    failing = True
    monkeypatch.setattr(wechat.keys, "_next_refresh", 0.0)
    requests.post(f"{url}/pay/notify/wechat/{VENUE}", data=body, headers=_junk("ABCDEF"), timeout=30)
    assert fetches and core._certificates
    order = new_order(pay)
    start(pay, url, order, "wechat", "native")
    pay_without_callback(box, sandbox_url, "wechat", order.id)
    assert box.notify(box.trade("wechat", order.id)) == 200
    assert pay.order(VENUE, order.id).status == "paid"


def test_a_rotated_certificate_is_downloaded_once_behind_the_rate_limit(pay, sandbox, tmp_path, monkeypatch):
    """A callback under a serial the portal does not hold yet (WeChat Pay rotated its certificate) is verified
    after one download; made-up serials then download nothing until REFRESH_S passed."""
    box, sandbox_url = sandbox
    cred = box.keys.merchant_credentials()["wechat"]
    (tmp_path / f"{cred['platform_serial']}.pem").write_text(cred["platform_cert"])
    wechat = WeChatPayProvider(cred["mchid"], cred["appid"], cred["private_key"], cred["cert_serial_no"],
                               cred["apiv3_key"], str(tmp_path), gateway=sandbox_url)
    from portal.paysandbox.keys import new_rsa, self_signed  # lazy: only this test rotates the sandbox's keys

    key = new_rsa()
    monkeypatch.setattr(box.keys, "wechat_platform_key", key)
    monkeypatch.setattr(box.keys, "wechat_platform_cert", self_signed(key, "rotated"))
    headers = box.wechat_signature_headers("{}")
    assert wechat.keys.verify(headers, "{}") and wechat.keys.refreshes == 1
    assert not wechat.keys.verify(_junk("ABCDEF"), "{}") and wechat.keys.refreshes == 1
    assert wechat.keys.verify(headers, "{}") and wechat.keys.refreshes == 1


def test_a_wechat_set_up_failure_leaves_alipay_working_and_is_retried_after_a_back_off(sandbox, tmp_path, monkeypatch):
    """WeChat Pay's /v3/certificates answers 404 (a merchant on the public key that did not configure it):
    Alipay still pays, and WeChat Pay's set-up is not tried again at every page."""
    box, sandbox_url = sandbox
    tries = []

    def wechat_fails(*args, **kwargs):
        tries.append(1)
        raise ProviderError("WeChat Pay setup failed: No wechatpay platform certificate")

    now = [1000.0]
    cred = box.keys.merchant_credentials()["alipay"]
    for name, text in (("app.pem", cred["app_private_key"]), ("alipay.pem", cred["alipay_public_key"]),
                       ("wx.pem", box.keys.merchant_credentials()["wechat"]["private_key"])):
        (tmp_path / name).write_text(text)
    settings = PaymentSettings(wechat_mchid="1900000001", wechat_private_key_file=str(tmp_path / "wx.pem"),
                               wechat_apiv3_key="k" * 32, wechat_cert_dir=str(tmp_path / "certs"),
                               alipay_appid=cred["appid"], alipay_private_key_file=str(tmp_path / "app.pem"),
                               alipay_public_key_file=str(tmp_path / "alipay.pem"),
                               alipay_gateway=f"{sandbox_url}/gateway.do")
    monkeypatch.setattr(config, "WeChatPayProvider", wechat_fails)
    providers = config.build_providers(settings, tmp_path)
    monkeypatch.setattr(providers, "_clock", lambda: now[0])
    assert list(providers.current()) == ["alipay"] and len(tries) == 1
    with pytest.raises(ProviderError, match="setup failed"):
        providers.get("wechat")
    for _ in range(5):
        providers.current()
    assert len(tries) == 1  # backing off
    now[0] += registry.SETUP_RETRY_S + 1
    providers.current()
    assert len(tries) == 2
    now[0] += registry.SETUP_RETRY_S + 1  # the wait doubled
    providers.current()
    assert len(tries) == 2


def test_payment_settings_take_the_public_key_and_its_id_together(tmp_path):
    env = {"WECHATPAY_PUBLIC_KEY_FILE": "/etc/mallportal/pub_key.pem", "WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_01"}
    pay = PaymentSettings.from_env(env, tmp_path)
    assert (pay.wechat_public_key_file, pay.wechat_public_key_id) == tuple(env.values())
    with pytest.raises(ValueError, match="WECHATPAY_PUBLIC_KEY_ID"):
        PaymentSettings.from_env({"WECHATPAY_PUBLIC_KEY_FILE": "/x.pem"}, tmp_path)
