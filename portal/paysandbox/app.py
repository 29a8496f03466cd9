"""The payment sandbox: a stand-in for WeChat Pay's and Alipay's servers on a machine without internet.

It speaks the HTTP APIs the SDKs call, as the providers document them: WeChat Pay API v3 (requests
signed WECHATPAY2-SHA256-RSA2048 and checked against the merchant's key, responses signed with the
platform key, /v3/certificates encrypted with the APIv3 key, callbacks with an AES-256-GCM resource) and
the Alipay gateway (RSA2 over the sorted parameters, responses signed over the response object,
form-encoded notifications answered "success"). A page lets the "shopper" approve or decline.
For WeChat Pay JSAPI it also stands in for the official account's silent web sign-in (`/connect/oauth2/authorize`
sends WeChat's browser straight back with a code; `/sns/oauth2/access_token` gives one openid per sandbox user, a
cookie of the sandbox's) and for WeChat's own pay sheet: `jsapi_bridge_script` defines `WeixinJSBridge` for a
browser test to inject (playwright's add_init_script), which asks `/sandbox/jsapi/pay` to pay the prepay_id, as
the shopper approving on the H5 page does.

It shares no code with the portal's payment service (it is the other side of the wire), keeps its trades
in memory, and knows nothing but what the documented requests tell it. Deviations from the real services,
kept so a developer can click through: the Native `code_url` and Alipay's `qr_code` are http links to the
sandbox's own pay page (really weixin:// and https://qr.alipay.com/... for the phone's app to scan); the
JSAPI bridge pays at once, as the openid the order names, whichever user the browser is (real WeChat asks the
payer and checks that the signed-in user is the order's openid)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import logging
import re
import secrets
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, Response, abort, redirect, render_template_string, request
from markupsafe import escape

from portal.paysandbox.keys import SandboxKeys

log = logging.getLogger(__name__)
CHINA = timezone(timedelta(hours=8))
_AUTH = re.compile(r'(\w+)="([^"]*)"')
TRADE_TYPES = {"h5": "MWEB", "native": "NATIVE", "jsapi": "JSAPI"}  # WeChat Pay's trade_type of each method
SIGN_IN_CODE_MS = 5 * 60 * 1000  # a sign-in's code is good for one exchange within 5 minutes (as WeChat's)
USER_COOKIE = "sandbox_wechat_user"  # which sandbox user the browser is signed in to WeChat as


def _sign(key, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def _verify(public_key, message: str, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _china(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=CHINA)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _fen(text: str) -> int:
    whole, _, frac = str(text).partition(".")
    if not whole.isdigit() or len(frac) > 2 or (frac and not frac.isdigit()):
        raise ValueError(text)
    return int(whole) * 100 + int((frac + "00")[:2])


@dataclass
class Refund:
    no: str
    amount: int
    ms: float
    refund_id: str
    status: str = "SUCCESS"  # SUCCESS | PROCESSING (WeChat's names, for both)
    notify_url: str = ""  # WeChat: the refund's own notify_url; else the trade's


@dataclass
class Trade:
    provider: str  # wechat | alipay
    out_trade_no: str
    amount: int  # fen
    description: str
    notify_url: str
    expires_ms: float
    method: str  # h5 | native | jsapi | wap | qr
    return_url: str = ""
    payer: str = ""  # JSAPI: the openid that pays
    status: str = "NOTPAY"  # NOTPAY | SUCCESS | CLOSED | PAYERROR | REFUND (WeChat's names, for both)
    txn: str = ""
    paid_ms: float = 0
    refunds: list[Refund] = field(default_factory=list)
    notifications: list[dict] = field(default_factory=list)  # every callback sent: url, headers, body, answer

    @property
    def refunded(self) -> int:
        return sum(r.amount for r in self.refunds)


@dataclass
class Agreement:
    """An Alipay withholding agreement (商户代扣): asked for by the merchant, signed (or not) by the shopper."""

    agreement_no: str
    external_no: str
    return_url: str
    status: str = "TEMP"  # TEMP (not signed yet) | NORMAL | STOP


class Sandbox:
    """Trades in memory and the callbacks sent; `hold_notifications` keeps callbacks unsent (a late one)."""

    def __init__(self, keys: SandboxKeys | None = None) -> None:
        self.keys = keys or SandboxKeys.generate()
        self.trades: dict[tuple[str, str], Trade] = {}
        self.lock = threading.Lock()
        self.hold_notifications = False
        self.bill_tokens: dict[str, tuple[str, str]] = {}
        self.agreements: dict[str, Agreement] = {}  # Alipay withholding agreements by agreement_no
        self.mall_points: dict[str, dict] = {}  # 智慧商圈 points synced by the mall, per transaction id
        self.sign_in_codes: dict[str, tuple[str, float]] = {}  # JSAPI sign-in code -> (openid, valid until ms)
        self.prepays: dict[str, str] = {}  # JSAPI prepay_id -> out_trade_no
        # How refunds are answered: "success" (at once), "processing" (WeChat: accepted, finished later by
        # finish_refund, which sends the refund's callback), "unmoved" (Alipay: 10000 with fund_change "N", the
        # refund done later, as its query then says), "down" (a system error: nothing recorded),
        # "balance" (the merchant's balance is too low: refused for now, as both providers answer it).
        self.refund_mode = "success"
        # What signs WeChat Pay's answers and callbacks: "certificate" (the platform certificate) or "public_key"
        # (微信支付公钥, a merchant since late 2024: /v3/certificates then answers 404, it has no certificate).
        self.wechat_signer = "certificate"

    def trade(self, provider: str, out_trade_no: str) -> Trade | None:
        with self.lock:
            return self.trades.get((provider, out_trade_no))

    def refund(self, provider: str, refund_no: str) -> tuple[Trade, Refund] | None:
        with self.lock:
            for trade in self.trades.values():
                for refund in trade.refunds if trade.provider == provider else ():
                    if refund.no == refund_no:
                        return trade, refund
        return None

    # ---- WeChat's sign-in (JSAPI's openid) ----

    def openid_of(self, user: str) -> str:
        """The openid a sandbox user has under the merchant's appid (the same user, the same openid)."""
        digest = hashlib.sha256(f"{self.keys.wechat_appid}:{user}".encode()).digest()
        return "o" + base64.urlsafe_b64encode(digest).decode()[:27]

    def sign_in(self, user: str) -> str:
        code = "sb" + secrets.token_hex(16)
        with self.lock:
            self.sign_in_codes[code] = (self.openid_of(user), time.time() * 1000 + SIGN_IN_CODE_MS)
        return code

    def exchange(self, code: str) -> str | None:
        """The code's openid, once (a code used, unknown or expired: None)."""
        with self.lock:
            openid, until_ms = self.sign_in_codes.pop(code, ("", 0.0))
        return openid if openid and time.time() * 1000 <= until_ms else None

    # ---- the shopper's side ----

    def approve(self, trade: Trade, now_ms: float | None = None) -> bool:
        now_ms = time.time() * 1000 if now_ms is None else now_ms
        with self.lock:
            if trade.status != "NOTPAY" or now_ms > trade.expires_ms:
                if trade.status == "NOTPAY":
                    trade.status = "CLOSED"  # time_expire passed: the provider closes the trade itself
                return False
            trade.status = "SUCCESS"
            trade.paid_ms = now_ms
            trade.txn = (("42" if trade.provider == "wechat" else "2026") + _china(now_ms).strftime("%Y%m%d")
                         + "".join(secrets.choice("0123456789") for _ in range(16)))
        if not self.hold_notifications:
            self.notify(trade)
        return True

    def decline(self, trade: Trade) -> None:
        with self.lock:
            if trade.status == "NOTPAY" and trade.provider == "wechat":
                trade.status = "PAYERROR"  # Alipay: the trade simply stays WAIT_BUYER_PAY

    # ---- callbacks ----

    def notification(self, trade: Trade) -> tuple[dict[str, str], bytes]:
        """The callback for a paid trade, headers and body exactly as the provider documents them."""
        if trade.provider == "wechat":
            return self._wechat_notification(trade)
        return self._alipay_notification(trade)

    def notify(self, trade: Trade) -> int | None:
        headers, body = self.notification(trade)
        return self._post(trade.notify_url, headers, body, trade)

    def _wechat_notification(self, trade: Trade) -> tuple[dict[str, str], bytes]:
        k = self.keys
        resource = {
            "mchid": k.wechat_mchid, "appid": k.wechat_appid, "out_trade_no": trade.out_trade_no,
            "transaction_id": trade.txn, "trade_type": TRADE_TYPES.get(trade.method, "NATIVE"),
            "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "",
            "success_time": _china(trade.paid_ms).isoformat(timespec="seconds"),
            "payer": {"openid": trade.payer or "o" + hashlib.sha256(trade.out_trade_no.encode()).hexdigest()[:27]},
            "amount": {"total": trade.amount, "payer_total": trade.amount, "currency": "CNY",
                       "payer_currency": "CNY"},
        }
        return self.wechat_event("TRANSACTION.SUCCESS", "支付成功", "transaction", resource)

    def wechat_signature_headers(self, body: str) -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        k = self.keys
        key, serial = ((k.wechat_public_key, k.wechat_public_key_id) if self.wechat_signer == "public_key"
                       else (k.wechat_platform_key, k.wechat_platform_serial))
        return {
            "Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": _sign(key, f"{timestamp}\n{nonce}\n{body}\n"),
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def _alipay_notification(self, trade: Trade) -> tuple[dict[str, str], bytes]:
        k = self.keys
        now = _china(time.time() * 1000).strftime("%Y-%m-%d %H:%M:%S")
        params = {
            "notify_time": now, "notify_type": "trade_status_sync", "notify_id": secrets.token_hex(16),
            "charset": "utf-8", "version": "1.0", "sign_type": "RSA2", "app_id": k.alipay_appid,
            "auth_app_id": k.alipay_appid, "trade_no": trade.txn, "out_trade_no": trade.out_trade_no,
            "trade_status": "TRADE_SUCCESS", "total_amount": _yuan(trade.amount),
            "receipt_amount": _yuan(trade.amount), "buyer_pay_amount": _yuan(trade.amount),
            "invoice_amount": _yuan(trade.amount), "point_amount": "0.00", "subject": trade.description,
            "gmt_create": _china(trade.paid_ms).strftime("%Y-%m-%d %H:%M:%S"),
            "gmt_payment": _china(trade.paid_ms).strftime("%Y-%m-%d %H:%M:%S"),
            "buyer_id": "2088" + "1" * 12, "seller_id": "2088" + "2" * 12,
            "fund_bill_list": json.dumps([{"amount": _yuan(trade.amount), "fundChannel": "ALIPAYACCOUNT"}]),
        }
        params["sign"] = self.alipay_sign(params, exclude=("sign", "sign_type"))
        return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(params).encode()

    # ---- refund results ----

    def finish_refund(self, trade: Trade, refund: Refund) -> int | None:
        """A processing refund completes (or a completed one is told again): its callback is sent."""
        with self.lock:
            if refund.status != "SUCCESS":
                refund.status, refund.ms = "SUCCESS", time.time() * 1000
        return self.notify_refund(trade, refund)

    def refund_notification(self, trade: Trade, refund: Refund) -> tuple[dict[str, str], bytes]:
        """A refund's result callback, as each provider documents it: WeChat Pay's REFUND.SUCCESS with an
        AES-GCM resource (associated data "refund"); Alipay's trade_status_sync with the refund fields."""
        if trade.provider == "wechat":
            resource = {
                "mchid": self.keys.wechat_mchid, "out_trade_no": trade.out_trade_no, "transaction_id": trade.txn,
                "out_refund_no": refund.no, "refund_id": refund.refund_id, "refund_status": refund.status,
                "success_time": _china(refund.ms).isoformat(timespec="seconds"),
                "user_received_account": "支付用户零钱",
                "amount": {"total": trade.amount, "refund": refund.amount, "payer_total": trade.amount,
                           "payer_refund": refund.amount},
            }
            return self.wechat_event("REFUND.SUCCESS", "退款成功", "refund", resource)
        now = _china(time.time() * 1000).strftime("%Y-%m-%d %H:%M:%S")
        params = {
            "notify_time": now, "notify_type": "trade_status_sync", "notify_id": secrets.token_hex(16),
            "charset": "utf-8", "version": "1.0", "sign_type": "RSA2", "app_id": self.keys.alipay_appid,
            "trade_no": trade.txn, "out_trade_no": trade.out_trade_no, "out_biz_no": refund.no,
            "trade_status": "TRADE_CLOSED" if trade.refunded >= trade.amount else "TRADE_SUCCESS",
            "total_amount": _yuan(trade.amount), "refund_fee": _yuan(trade.refunded),
            "gmt_refund": _china(refund.ms).strftime("%Y-%m-%d %H:%M:%S.000"),
        }
        params["sign"] = self.alipay_sign(params, exclude=("sign", "sign_type"))
        return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(params).encode()

    def notify_refund(self, trade: Trade, refund: Refund) -> int | None:
        headers, body = self.refund_notification(trade, refund)
        return self._post(refund.notify_url or trade.notify_url, headers, body, trade)

    def wechat_event(self, event_type: str, summary: str, original_type: str, resource: dict) -> tuple[dict, bytes]:
        """Any WeChat Pay v3 notification: the resource encrypted with the APIv3 key, the body signed."""
        nonce = secrets.token_hex(6)
        ciphertext = AESGCM(self.keys.wechat_apiv3_key.encode()).encrypt(
            nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), original_type.encode())
        body = json.dumps({
            "id": str(uuid.uuid4()), "create_time": _china(time.time() * 1000).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource", "event_type": event_type, "summary": summary,
            "resource": {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": base64.b64encode(ciphertext).decode(), "associated_data": original_type,
                         "nonce": nonce},
        }, ensure_ascii=False)
        return {"Content-Type": "application/json", **self.wechat_signature_headers(body)}, body.encode()

    # ---- 智慧商圈 (smart business district) ----

    def mall_event(self, kind: str, openid: str, amount: int, shop_number: str = "S001", shop_name: str = "",
                   txn: str = "", pay_amount: int = 0) -> tuple[dict[str, str], bytes, str]:
        """A mall-wide payment (kind "paid": MALL_TRANSACTION.SUCCESS) or refund ("refund":
        MALL_REFUND.SUCCESS) notification as WeChat Pay sends it to the mall's consumption callback:
        (headers, body, transaction id)."""
        now = _china(time.time() * 1000).isoformat(timespec="seconds")
        common = {"mchid": self.keys.wechat_mchid, "merchant_name": "Sandbox Mall", "openid": openid,
                  "shop_name": shop_name or shop_number, "shop_number": shop_number, "appid": self.keys.wechat_appid}
        if kind == "paid":
            txn = txn or "42" + "".join(secrets.choice("0123456789") for _ in range(26))
            resource = {**common, "time_end": now, "amount": amount, "transaction_id": txn, "commit_tag": ""}
            headers, body = self.wechat_event("MALL_TRANSACTION.SUCCESS", "支付成功", "mall_transaction", resource)
        else:
            resource = {**common, "refund_time": now, "pay_amount": pay_amount or amount, "refund_amount": amount,
                        "transaction_id": txn, "refund_id": "50" + secrets.token_hex(14)}
            headers, body = self.wechat_event("MALL_REFUND.SUCCESS", "退款成功", "mall_refund", resource)
        return headers, body, txn

    def _post(self, url: str, headers: dict[str, str], body: bytes, trade: Trade | None = None) -> int | None:
        try:
            answer = requests.post(url, data=body, headers=headers, timeout=30)
            result = (answer.status_code, answer.text)
        except requests.RequestException as exc:
            result = (None, str(exc))
        if trade is not None:
            trade.notifications.append({"headers": headers, "body": body, "status": result[0], "answer": result[1]})
        return result[0]

    def alipay_sign(self, params: dict[str, str], exclude: tuple[str, ...]) -> str:
        message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in exclude and v != "")
        return _sign(self.keys.alipay_key, message)

    # ---- bills ----

    def bill_rows(self, provider: str, day: str) -> list[tuple[str, Trade, int, Refund | None]]:
        """(kind, trade, amount, refund) of one provider's trades on one China-time day."""
        rows = []
        with self.lock:
            trades = [t for t in self.trades.values() if t.provider == provider]
        for t in trades:
            if t.paid_ms and _china(t.paid_ms).strftime("%Y-%m-%d") == day:
                rows.append(("paid", t, t.amount, None))
            rows += [("refund", t, r.amount, r) for r in t.refunds if _china(r.ms).strftime("%Y-%m-%d") == day]
        return rows

    def wechat_bill(self, day: str) -> bytes:
        k = self.keys
        header = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
                  "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
                  "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注")
        lines, paid, refunded = [header], 0, 0
        for _kind, t, amount, refund in self.bill_rows("wechat", day):
            when = _china(refund.ms if refund else t.paid_ms).strftime("%Y-%m-%d %H:%M:%S")
            fields = [when, k.wechat_appid, k.wechat_mchid, "0", "", t.txn, t.out_trade_no, "openid",
                      TRADE_TYPES.get(t.method, "NATIVE"), "REFUND" if refund else "SUCCESS", "OTHERS", "CNY",
                      _yuan(t.amount), "0.00", refund.refund_id if refund else "0", refund.no if refund else "0",
                      _yuan(amount) if refund else "0.00", "0.00", "ORIGINAL" if refund else "",
                      "SUCCESS" if refund else "", t.description.replace(",", " "), "", "0.00", "0.60%",
                      _yuan(t.amount), _yuan(amount) if refund else "0.00", ""]
            lines.append(",".join("`" + f for f in fields))
            paid += 0 if refund else amount
            refunded += amount if refund else 0
        lines.append("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额")
        lines.append(",".join("`" + f for f in (str(len(lines) - 2), _yuan(paid), _yuan(refunded), "0.00", "0.00",
                                                _yuan(paid), _yuan(refunded))))
        return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)  # the same bytes each time (checksum)

    def alipay_bill(self, day: str) -> bytes:
        k = self.keys
        header = ("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,"
                  "终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
                  "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注")
        rule = "#" + "-" * 40
        lines = ["#支付宝业务明细查询", f"#账号：[{k.alipay_appid}]",
                 f"#起始日期：[{day} 00:00:00]   终止日期：[{day} 23:59:59]", rule + "业务明细列表" + rule[1:], header]
        for _kind, t, amount, refund in self.bill_rows("alipay", day):
            sign = "-" if refund else ""
            when = _china(refund.ms if refund else t.paid_ms).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(",".join([t.txn, t.out_trade_no, "退款" if refund else "交易", t.description.replace(",", " "),
                                   when, when, "", "", "", "", "buyer***@example.com", sign + _yuan(amount),
                                   sign + _yuan(amount), "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00",
                                   refund.no if refund else "", "0.00", "0.00", ""]))
        lines.append(rule + "业务明细列表结束" + rule[1:])
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr(f"{k.alipay_appid}_{day.replace('-', '')}_业务明细.csv", "\n".join(lines).encode("gbk"))
            archive.writestr(f"{k.alipay_appid}_{day.replace('-', '')}_业务明细(汇总).csv", "#汇总\n".encode("gbk"))
        return out.getvalue()


_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem}
.amount{font-size:2rem;font-weight:600}.box{border:1px solid #ccc;border-radius:8px;padding:1rem}
button{font-size:1.1rem;padding:.6rem 1.2rem;margin:.3rem .3rem 0 0}</style></head><body>
<p><strong>{{ title }}</strong> · payment sandbox (no real money)</p>
<div class="box">
<p>{{ trade.description }}</p><p class="amount" id="amount">¥{{ yuan }}</p>
<p>Order {{ trade.out_trade_no }} · status <span id="status">{{ trade.status }}</span></p>
{% if message %}<p id="message">{{ message }}</p>{% endif %}
{% if trade.status == "NOTPAY" %}
<form method="post" action="{{ base }}/approve?{{ query }}"><button id="approve">Pay / 确认支付</button></form>
<form method="post" action="{{ base }}/decline?{{ query }}"><button id="decline">Decline / 取消</button></form>
{% endif %}
</div></body></html>"""


_AGREEMENT_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>支付宝 Alipay</title></head><body>
<p><strong>支付宝 Alipay</strong> · payment sandbox (no real money)</p>
<p>Sign a withholding agreement (商户代扣): the merchant may charge you later without asking again.</p>
<p>Agreement {{ agreement.agreement_no }} · status <span id="status">{{ agreement.status }}</span></p>
{% if agreement.status == "TEMP" %}
<form method="post" action="/sandbox/agreement/alipay/{{ agreement.agreement_no }}/approve">
<button id="approve">Sign / 同意并开通</button></form>
<form method="post" action="/sandbox/agreement/alipay/{{ agreement.agreement_no }}/decline">
<button id="decline">Decline / 取消</button></form>
{% endif %}</body></html>"""


def create_sandbox_app(sandbox: Sandbox | None = None) -> Flask:
    sandbox = sandbox or Sandbox()
    app = Flask(__name__)
    app.extensions["paysandbox"] = sandbox
    keys = sandbox.keys
    merchant_public = keys.wechat_merchant_key.public_key()
    app_public = keys.alipay_app_key.public_key()

    # ---- WeChat Pay API v3 ----

    def wechat_answer(status: int, payload: dict | None = None) -> Response:
        body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
        resp = Response(body, status=status, content_type="application/json; charset=utf-8")
        resp.headers.update(sandbox.wechat_signature_headers(body))
        resp.headers["Request-ID"] = str(uuid.uuid4())
        return resp

    def wechat_error(status: int, code: str, message: str) -> Response:
        return wechat_answer(status, {"code": code, "message": message})

    @app.before_request
    def wechat_authorization():
        if not request.path.startswith("/v3/") or request.path.startswith("/v3/billdownload/"):
            return None
        fields = dict(_AUTH.findall(request.headers.get("Authorization", "")))
        path = request.path + ("?" + request.query_string.decode() if request.query_string else "")
        message = (f"{request.method}\n{path}\n{fields.get('timestamp', '')}\n{fields.get('nonce_str', '')}\n"
                   f"{request.get_data(as_text=True)}\n")
        if (not request.headers.get("Authorization", "").startswith("WECHATPAY2-SHA256-RSA2048 ")
                or fields.get("mchid") != keys.wechat_mchid or fields.get("serial_no") != keys.wechat_merchant_serial
                or abs(time.time() - int(fields.get("timestamp") or 0)) > 300
                or not _verify(merchant_public, message, fields.get("signature", ""))):
            return wechat_error(401, "SIGN_ERROR", "签名错误")
        return None

    @app.post("/v3/pay/transactions/<kind>")
    def wechat_order(kind: str):
        data = request.get_json(silent=True) or {}
        if kind not in TRADE_TYPES:
            return wechat_error(404, "NOT_FOUND", "unsupported in the sandbox")
        amount = (data.get("amount") or {}).get("total")
        required = (data.get("appid") == keys.wechat_appid and data.get("mchid") == keys.wechat_mchid
                    and data.get("description") and data.get("out_trade_no") and data.get("notify_url")
                    and isinstance(amount, int) and amount > 0)
        if kind == "h5" and not (data.get("scene_info") or {}).get("payer_client_ip"):
            required = False
        payer = str((data.get("payer") or {}).get("openid") or "")
        if kind == "jsapi" and not payer:
            required = False
        if not required:
            return wechat_error(400, "PARAM_ERROR", "参数错误")
        expires_ms = (datetime.fromisoformat(data["time_expire"]).timestamp() * 1000 if data.get("time_expire")
                      else time.time() * 1000 + 2 * 3600 * 1000)
        with sandbox.lock:
            trade = sandbox.trades.get(("wechat", data["out_trade_no"]))
            if trade is not None and (trade.amount != amount or trade.status != "NOTPAY"):
                return wechat_error(400, "ORDERPAID" if trade.status == "SUCCESS" else "OUT_TRADE_NO_USED",
                                    "商户订单号重复")
            if trade is None:
                trade = sandbox.trades[("wechat", data["out_trade_no"])] = Trade(
                    "wechat", data["out_trade_no"], amount, data["description"], data["notify_url"], expires_ms, kind)
            prepay = "wx" + secrets.token_hex(14)
            if kind == "jsapi":  # the sheet WeChat opens for this prepay_id pays this trade, as this openid
                trade.method, trade.payer = kind, payer
                sandbox.prepays[prepay] = trade.out_trade_no
        if kind == "jsapi":
            return wechat_answer(200, {"prepay_id": prepay})
        url = f"{request.host_url}sandbox/pay/wechat/{trade.out_trade_no}?prepay_id={prepay}"
        return wechat_answer(200, {"h5_url": url} if kind == "h5" else {"code_url": url})

    # ---- the official account's web sign-in (JSAPI's openid) and WeChat's pay sheet ----

    @app.get("/connect/oauth2/authorize")
    def wechat_sign_in():
        """snsapi_base: no consent screen, WeChat's browser goes straight back with a code (and the state as
        given). Outside WeChat's browser WeChat shows only "open this link in WeChat"."""
        args = request.args
        redirect_uri = args.get("redirect_uri", "")
        if (args.get("appid") != keys.wechat_appid or args.get("response_type") != "code"
                or args.get("scope") not in ("snsapi_base", "snsapi_userinfo")
                or not redirect_uri.startswith(("http://", "https://"))):
            return Response("WeChat sandbox: 参数错误 (appid, response_type, scope or redirect_uri)", status=400)
        if "micromessenger" not in request.user_agent.string.lower():
            return Response("请在微信客户端打开链接 Please open this link in WeChat", status=403)
        user = request.cookies.get(USER_COOKIE) or secrets.token_hex(8)
        back = {"code": sandbox.sign_in(user), "state": args.get("state", "")}
        answer = redirect(redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(back), code=302)
        answer.set_cookie(USER_COOKIE, user, httponly=True, samesite="Lax")
        return answer

    @app.get("/sns/oauth2/access_token")
    def wechat_code_exchange():
        """The code for the signed-in user's openid (as WeChat: HTTP 200 either way, errcode on refusal)."""
        args = request.args
        if args.get("appid") != keys.wechat_appid or args.get("secret") != keys.wechat_app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if args.get("grant_type") != "authorization_code":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        openid = sandbox.exchange(args.get("code", ""))
        if openid is None:
            return {"errcode": 40029, "errmsg": "invalid code"}
        return {"access_token": secrets.token_urlsafe(24), "expires_in": 7200,
                "refresh_token": secrets.token_urlsafe(24), "openid": openid, "scope": "snsapi_base"}

    @app.get("/sandbox/jsapi/bridge.js")
    def wechat_bridge_script():
        return Response(jsapi_bridge_script(request.host_url.rstrip("/")), content_type="text/javascript")

    @app.post("/sandbox/jsapi/pay")
    def wechat_pay_sheet():
        """getBrandWCPayRequest, approved: the parameters' paySign checked with the merchant's key (over appId,
        timeStamp, nonceStr, package), then the prepay_id's trade paid as on the H5 page. Plain text JSON from
        another origin (the portal's page): no CORS preflight, any origin may read the answer."""
        try:
            params = json.loads(request.get_data(as_text=True))
        except ValueError:
            params = None
        trade = None
        if isinstance(params, dict) and params.get("appId") == keys.wechat_appid and params.get("signType") == "RSA":
            message = "".join(f"{params.get(k, '')}\n" for k in ("appId", "timeStamp", "nonceStr", "package"))
            if _verify(merchant_public, message, str(params.get("paySign", ""))):
                prepay = str(params.get("package", "")).removeprefix("prepay_id=")
                trade = sandbox.trade("wechat", sandbox.prepays.get(prepay, ""))
        paid = trade is not None and sandbox.approve(trade)
        answer = Response(json.dumps({"paid": paid}), status=200 if paid else 400, content_type="application/json")
        answer.headers["Access-Control-Allow-Origin"] = "*"
        return answer

    def wechat_trade(out_trade_no: str) -> Trade | None:
        if request.args.get("mchid", keys.wechat_mchid) != keys.wechat_mchid:
            return None
        return sandbox.trade("wechat", out_trade_no)

    @app.get("/v3/pay/transactions/out-trade-no/<out_trade_no>")
    def wechat_query(out_trade_no: str):
        trade = wechat_trade(out_trade_no)
        if trade is None:
            return wechat_error(404, "ORDER_NOT_EXIST", "订单不存在")
        if trade.status == "NOTPAY" and time.time() * 1000 > trade.expires_ms:
            trade.status = "CLOSED"
        payload = {"appid": keys.wechat_appid, "mchid": keys.wechat_mchid, "out_trade_no": trade.out_trade_no,
                   "trade_state": trade.status, "trade_state_desc": trade.status,
                   "amount": {"total": trade.amount, "currency": "CNY"}}
        if trade.txn:
            payload.update(transaction_id=trade.txn, success_time=_china(trade.paid_ms).isoformat(timespec="seconds"),
                           trade_type=TRADE_TYPES.get(trade.method, "NATIVE"),
                           amount={"total": trade.amount, "payer_total": trade.amount, "currency": "CNY",
                                   "payer_currency": "CNY"})
        return wechat_answer(200, payload)

    @app.post("/v3/pay/transactions/out-trade-no/<out_trade_no>/close")
    def wechat_close(out_trade_no: str):
        trade = sandbox.trade("wechat", out_trade_no)
        if trade is None:
            return wechat_error(404, "ORDER_NOT_EXIST", "订单不存在")
        with sandbox.lock:
            if trade.status in ("SUCCESS", "REFUND"):
                return wechat_error(400, "ORDERPAID", "订单已支付")
            trade.status = "CLOSED"
        return wechat_answer(204)

    @app.post("/v3/refund/domestic/refunds")
    def wechat_refund():
        data = request.get_json(silent=True) or {}
        amount = data.get("amount") or {}
        trade = sandbox.trade("wechat", data.get("out_trade_no", ""))
        if trade is None:
            return wechat_error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        if (not data.get("out_refund_no") or not isinstance(amount.get("refund"), int)
                or amount.get("total") != trade.amount):
            return wechat_error(400, "PARAM_ERROR", "参数错误")
        refund, error, _repeated = _refund(sandbox, trade, data["out_refund_no"], amount["refund"],
                                           data.get("notify_url", ""))
        if error == "down":
            return wechat_error(500, "SYSTEM_ERROR", "系统错误")
        if error:
            # WeChat Pay: 403 NOT_ENOUGH is the merchant's balance (top up, ask again); more than the trade has
            # left is 400 INVALID_REQUEST.
            status, code = {"balance": (403, "NOT_ENOUGH")}.get(error, (400, "INVALID_REQUEST"))
            return wechat_error(status, code, error)
        return wechat_answer(200, wechat_refund_record(trade, refund))

    def wechat_refund_record(trade: Trade, refund: Refund) -> dict:
        record = {
            "refund_id": refund.refund_id, "out_refund_no": refund.no, "transaction_id": trade.txn,
            "out_trade_no": trade.out_trade_no, "channel": "ORIGINAL", "status": refund.status,
            "create_time": _china(refund.ms).isoformat(timespec="seconds"),
            "amount": {"total": trade.amount, "refund": refund.amount, "payer_total": trade.amount,
                       "payer_refund": refund.amount, "currency": "CNY"}}
        if refund.status == "SUCCESS":
            record["success_time"] = _china(refund.ms).isoformat(timespec="seconds")
        return record

    @app.get("/v3/refund/domestic/refunds/<out_refund_no>")
    def wechat_refund_query(out_refund_no: str):
        found = sandbox.refund("wechat", out_refund_no)
        if found is None:
            return wechat_error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return wechat_answer(200, wechat_refund_record(*found))

    @app.post("/v3/businesscircle/points/notify")
    def wechat_mall_points():
        """商圈会员积分同步: the mall tells WeChat Pay what a member's purchase earned."""
        data = request.get_json(silent=True) or {}
        if (data.get("appid") != keys.wechat_appid or not data.get("transaction_id") or not data.get("openid")
                or not isinstance(data.get("earn_points"), bool) or not data.get("points_update_time")):
            return wechat_error(400, "PARAM_ERROR", "参数错误")
        sandbox.mall_points[data["transaction_id"]] = data
        return wechat_answer(204)

    @app.get("/v3/certificates")
    def wechat_certificates():
        if sandbox.wechat_signer == "public_key":
            return wechat_error(404, "NOT_FOUND", "证书不存在")
        nonce = secrets.token_hex(6)
        pem = keys.wechat_platform_cert.public_bytes(serialization.Encoding.PEM)
        cipher = AESGCM(keys.wechat_apiv3_key.encode()).encrypt(nonce.encode(), pem, b"certificate")
        cert = keys.wechat_platform_cert
        return wechat_answer(200, {"data": [{
            "serial_no": keys.wechat_platform_serial,
            "effective_time": cert.not_valid_before_utc.astimezone(CHINA).isoformat(timespec="seconds"),
            "expire_time": cert.not_valid_after_utc.astimezone(CHINA).isoformat(timespec="seconds"),
            "encrypt_certificate": {"algorithm": "AEAD_AES_256_GCM", "nonce": nonce, "associated_data": "certificate",
                                    "ciphertext": base64.b64encode(cipher).decode()}}]})

    @app.get("/v3/bill/tradebill")
    def wechat_trade_bill():
        day = request.args.get("bill_date", "")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            return wechat_error(400, "PARAM_ERROR", "bill_date")
        raw = sandbox.wechat_bill(day)
        token = secrets.token_urlsafe(16)
        sandbox.bill_tokens[token] = ("wechat", day)
        return wechat_answer(200, {"hash_type": "SHA1", "hash_value": hashlib.sha1(raw).hexdigest(),  # noqa: S324
                                   "download_url": f"{request.host_url}v3/billdownload/file?token={token}"})

    @app.get("/v3/billdownload/file")
    def wechat_bill_download():
        provider, day = sandbox.bill_tokens.get(request.args.get("token", ""), ("", ""))
        if provider != "wechat":
            abort(404)
        return Response(sandbox.wechat_bill(day), content_type="application/octet-stream")

    # ---- Alipay gateway ----

    def alipay_answer(method: str, payload: dict) -> Response:
        name = method.replace(".", "_") + "_response"
        inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        sign = _sign(keys.alipay_key, inner)
        return Response(f'{{"{name}":{inner},"sign":"{sign}"}}', content_type="application/json; charset=utf-8")

    def alipay_fail(method: str, sub_code: str, sub_msg: str, code: str = "40004") -> Response:
        return alipay_answer(method, {"code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg})

    @app.route("/gateway.do", methods=["GET", "POST"])
    def alipay_gateway():
        params = {k: v for k, v in request.values.items()}
        method = params.get("method", "")
        signature = params.pop("sign", "")
        message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        if params.get("app_id") != keys.alipay_appid or not _verify(app_public, message, signature):
            body = json.dumps({"error_response": {"code": "40002", "msg": "Invalid Arguments",
                                                  "sub_code": "isv.invalid-signature", "sub_msg": "验签出错"}})
            return Response(body, content_type="application/json; charset=utf-8")
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except ValueError:
            return alipay_fail(method, "isv.invalid-parameter", "biz_content", "40002")
        handler = _ALIPAY_METHODS.get(method)
        if handler is None:
            return alipay_fail(method, "isv.invalid-method", "不存在的方法名", "40002")
        return handler(params, biz)

    def alipay_new_trade(params: dict, biz: dict, method: str) -> Trade | str:
        try:
            amount = _fen(biz.get("total_amount", ""))
        except ValueError:
            return "total_amount"
        if not biz.get("out_trade_no") or not biz.get("subject") or amount <= 0:
            return "out_trade_no"
        expires_ms = (datetime.strptime(biz["time_expire"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA).timestamp()
                      * 1000 if biz.get("time_expire") else time.time() * 1000 + 2 * 3600 * 1000)
        with sandbox.lock:
            key = ("alipay", biz["out_trade_no"])
            trade = sandbox.trades.get(key)
            if trade is None:
                trade = sandbox.trades[key] = Trade("alipay", biz["out_trade_no"], amount, biz["subject"],
                                                    params.get("notify_url", ""), expires_ms, method,
                                                    params.get("return_url", ""))
            elif trade.amount != amount:
                return "ACQ.CONTEXT_INCONSISTENT"
        return trade

    def alipay_wap_pay(params: dict, biz: dict):
        trade = alipay_new_trade(params, biz, "wap")
        if isinstance(trade, str):
            return Response(f"Alipay sandbox: bad {escape(trade)}", status=400)
        return redirect(f"/sandbox/pay/alipay/{trade.out_trade_no}", code=302)

    def alipay_precreate(params: dict, biz: dict):
        trade = alipay_new_trade(params, biz, "qr")
        if isinstance(trade, str):
            return alipay_fail("alipay.trade.precreate", "ACQ.INVALID_PARAMETER", trade)
        return alipay_answer("alipay.trade.precreate", {
            "code": "10000", "msg": "Success", "out_trade_no": trade.out_trade_no,
            "qr_code": f"{request.host_url}sandbox/pay/alipay/{trade.out_trade_no}"})

    def alipay_query(params: dict, biz: dict):
        trade = sandbox.trade("alipay", biz.get("out_trade_no", ""))
        if trade is None:
            return alipay_fail("alipay.trade.query", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade.status == "NOTPAY" and time.time() * 1000 > trade.expires_ms:
            trade.status = "CLOSED"
        status = {"NOTPAY": "WAIT_BUYER_PAY", "PAYERROR": "WAIT_BUYER_PAY", "SUCCESS": "TRADE_SUCCESS",
                  "REFUND": "TRADE_CLOSED", "CLOSED": "TRADE_CLOSED"}[trade.status]
        if trade.refunded == trade.amount:
            status = "TRADE_CLOSED"  # a fully refunded trade closes
        payload = {"code": "10000", "msg": "Success", "out_trade_no": trade.out_trade_no, "trade_status": status,
                   "total_amount": _yuan(trade.amount)}
        if trade.txn:
            payload.update(trade_no=trade.txn, buyer_pay_amount=_yuan(trade.amount),
                           send_pay_date=_china(trade.paid_ms).strftime("%Y-%m-%d %H:%M:%S"))
        return alipay_answer("alipay.trade.query", payload)

    def alipay_close(params: dict, biz: dict):
        trade = sandbox.trade("alipay", biz.get("out_trade_no", ""))
        if trade is None:
            return alipay_fail("alipay.trade.close", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        with sandbox.lock:
            if trade.status not in ("NOTPAY", "PAYERROR", "CLOSED"):
                return alipay_fail("alipay.trade.close", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            trade.status = "CLOSED"
        return alipay_answer("alipay.trade.close", {"code": "10000", "msg": "Success",
                                                    "out_trade_no": trade.out_trade_no, "trade_no": trade.txn})

    def alipay_refund(params: dict, biz: dict):
        trade = sandbox.trade("alipay", biz.get("out_trade_no", ""))
        if trade is None:
            return alipay_fail("alipay.trade.refund", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        try:
            amount = _fen(biz.get("refund_amount", ""))
        except ValueError:
            return alipay_fail("alipay.trade.refund", "ACQ.INVALID_PARAMETER", "refund_amount", "40002")
        refund, error, repeated = _refund(sandbox, trade, biz.get("out_request_no") or trade.out_trade_no, amount)
        if error == "down":
            return alipay_fail("alipay.trade.refund", "ACQ.SYSTEM_ERROR", "系统错误", "20000")
        if error:
            code = {"exceeds": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "balance": "ACQ.SELLER_BALANCE_NOT_ENOUGH"}.get(
                error, "ACQ.TRADE_STATUS_ERROR")
            return alipay_fail("alipay.trade.refund", code, error)
        return alipay_answer("alipay.trade.refund", {
            "code": "10000", "msg": "Success", "trade_no": trade.txn, "out_trade_no": trade.out_trade_no,
            # as Alipay: the money moved by this call ("Y"), or not (a repeated out_request_no, or a refund
            # still processing: "N", and only the refund query tells when it is done)
            "buyer_logon_id": "buy***@example.com",
            "fund_change": "N" if repeated or refund.status != "SUCCESS" else "Y", "refund_fee": _yuan(trade.refunded),
            "gmt_refund_pay": _china(refund.ms).strftime("%Y-%m-%d %H:%M:%S")})

    def alipay_refund_query(params: dict, biz: dict):
        found = sandbox.refund("alipay", biz.get("out_request_no", ""))
        method = "alipay.trade.fastpay.refund.query"
        if found is None or found[0].out_trade_no != biz.get("out_trade_no", found[0].out_trade_no) \
                or found[1].status != "SUCCESS":
            # Alipay's answer for a refund it does not have, or has not done: 10000 without the refund's data
            return alipay_answer(method, {"code": "10000", "msg": "Success"})
        trade, refund = found
        return alipay_answer(method, {
            "code": "10000", "msg": "Success", "trade_no": trade.txn, "out_trade_no": trade.out_trade_no,
            "out_request_no": refund.no, "total_amount": _yuan(trade.amount), "refund_amount": _yuan(refund.amount),
            "refund_status": "REFUND_SUCCESS"})

    def alipay_bill_url(params: dict, biz: dict):
        day = biz.get("bill_date", "")
        if biz.get("bill_type") != "trade" or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            return alipay_fail("alipay.data.dataservice.bill.downloadurl.query", "isv.invalid-parameter", "bill")
        token = secrets.token_urlsafe(16)
        sandbox.bill_tokens[token] = ("alipay", day)
        return alipay_answer("alipay.data.dataservice.bill.downloadurl.query", {
            "code": "10000", "msg": "Success", "bill_download_url": f"{request.host_url}sandbox/bills/{token}.zip"})

    # ---- Alipay withholding agreements (商户代扣) ----

    def alipay_agreement_sign(params: dict, biz: dict):
        """alipay.user.agreement.page.sign: the shopper's signing page."""
        if biz.get("personal_product_code") != "GENERAL_WITHHOLDING_P" or not biz.get("external_agreement_no"):
            return Response("Alipay sandbox: bad agreement request", status=400)
        agreement = Agreement("2026" + "".join(secrets.choice("0123456789") for _ in range(16)),
                              biz["external_agreement_no"], params.get("return_url", ""))
        with sandbox.lock:
            sandbox.agreements[agreement.agreement_no] = agreement
        return redirect(f"/sandbox/agreement/alipay/{agreement.agreement_no}", code=302)

    def alipay_agreement_query(params: dict, biz: dict):
        agreement = sandbox.agreements.get(biz.get("agreement_no", ""))
        if agreement is None or agreement.status == "TEMP":
            return alipay_fail("alipay.user.agreement.query", "USER_AGREEMENT_NOT_EXIST", "协议不存在")
        return alipay_answer("alipay.user.agreement.query", {
            "code": "10000", "msg": "Success", "agreement_no": agreement.agreement_no, "status": agreement.status,
            "external_agreement_no": agreement.external_no, "personal_product_code": "GENERAL_WITHHOLDING_P"})

    def alipay_trade_pay(params: dict, biz: dict):
        """alipay.trade.pay with agreement_params: charged at once, no shopper present; the notification
        follows as for any trade. The same out_trade_no again answers about the same trade."""
        agreement = sandbox.agreements.get((biz.get("agreement_params") or {}).get("agreement_no", ""))
        if biz.get("product_code") != "GENERAL_WITHHOLDING" or agreement is None:
            return alipay_fail("alipay.trade.pay", "ACQ.INVALID_PARAMETER", "agreement_params")
        if agreement.status != "NORMAL":
            return alipay_fail("alipay.trade.pay", "ACQ.AGREEMENT_STATUS_NOT_NORMAL", "代扣协议状态非正常")
        trade = alipay_new_trade(params, biz, "agreement")
        if isinstance(trade, str):
            return alipay_fail("alipay.trade.pay", "ACQ.INVALID_PARAMETER", trade)
        if trade.status == "NOTPAY":
            sandbox.approve(trade)
        if trade.status not in ("SUCCESS", "REFUND"):
            return alipay_fail("alipay.trade.pay", "ACQ.TRADE_HAS_CLOSE", "交易已关闭")
        return alipay_answer("alipay.trade.pay", {
            "code": "10000", "msg": "Success", "out_trade_no": trade.out_trade_no, "trade_no": trade.txn,
            "total_amount": _yuan(trade.amount), "gmt_payment": _china(trade.paid_ms).strftime("%Y-%m-%d %H:%M:%S")})

    @app.get("/sandbox/agreement/alipay/<agreement_no>")
    def agreement_page(agreement_no: str):
        agreement = sandbox.agreements.get(agreement_no) or abort(404)
        return render_template_string(_AGREEMENT_PAGE, agreement=agreement)

    @app.post("/sandbox/agreement/alipay/<agreement_no>/<answer>")
    def agreement_answer(agreement_no: str, answer: str):
        agreement = sandbox.agreements.get(agreement_no) or abort(404)
        if answer not in ("approve", "decline") or agreement.status != "TEMP":
            abort(409)
        with sandbox.lock:
            agreement.status = "NORMAL" if answer == "approve" else "STOP"
        if not agreement.return_url:
            return render_template_string(_AGREEMENT_PAGE, agreement=agreement)
        ret = {"agreement_no": agreement.agreement_no, "external_agreement_no": agreement.external_no,
               "status": agreement.status, "app_id": keys.alipay_appid, "sign_type": "RSA2", "charset": "utf-8"}
        ret["sign"] = sandbox.alipay_sign(ret, exclude=("sign", "sign_type"))
        sep = "&" if "?" in agreement.return_url else "?"
        return redirect(agreement.return_url + sep + urlencode(ret), code=303)

    _ALIPAY_METHODS = {
        "alipay.user.agreement.page.sign": alipay_agreement_sign, "alipay.user.agreement.query": alipay_agreement_query,
        "alipay.trade.pay": alipay_trade_pay,
        "alipay.trade.wap.pay": alipay_wap_pay, "alipay.trade.precreate": alipay_precreate,
        "alipay.trade.query": alipay_query, "alipay.trade.close": alipay_close,
        "alipay.trade.refund": alipay_refund, "alipay.trade.fastpay.refund.query": alipay_refund_query,
        "alipay.data.dataservice.bill.downloadurl.query": alipay_bill_url,
    }

    @app.get("/sandbox/bills/<token>.zip")
    def alipay_bill_download(token: str):
        provider, day = sandbox.bill_tokens.get(token, ("", ""))
        if provider != "alipay":
            abort(404)
        return Response(sandbox.alipay_bill(day), content_type="application/zip")

    # ---- the shopper's page ----

    def page_trade(provider: str, out_trade_no: str) -> Trade:
        trade = sandbox.trade(provider, out_trade_no)
        if trade is None:
            abort(404)
        return trade

    def pay_page(trade: Trade, message: str = "", status: int = 200):
        title = "微信支付 WeChat Pay" if trade.provider == "wechat" else "支付宝 Alipay"
        return render_template_string(_PAGE, title=title, trade=trade, yuan=_yuan(trade.amount), message=message,
                                      base=f"/sandbox/pay/{trade.provider}/{trade.out_trade_no}",
                                      query=request.query_string.decode()), status

    @app.get("/sandbox/pay/<provider>/<out_trade_no>")
    def shopper_page(provider: str, out_trade_no: str):
        return pay_page(page_trade(provider, out_trade_no))

    def back_to_merchant(trade: Trade):
        if trade.provider == "wechat" and request.args.get("redirect_url"):
            return redirect(request.args["redirect_url"], code=303)
        if trade.provider == "alipay" and trade.return_url:
            # Alipay's synchronous return: a few signed parameters (the notification is what counts).
            ret = {"out_trade_no": trade.out_trade_no, "total_amount": _yuan(trade.amount),
                   "app_id": keys.alipay_appid, "method": "alipay.trade.wap.pay.return", "charset": "utf-8",
                   "timestamp": _china(time.time() * 1000).strftime("%Y-%m-%d %H:%M:%S"), "version": "1.0",
                   "sign_type": "RSA2"}
            if trade.txn:
                ret["trade_no"] = trade.txn
            ret["sign"] = sandbox.alipay_sign(ret, exclude=("sign", "sign_type"))
            sep = "&" if "?" in trade.return_url else "?"
            return redirect(trade.return_url + sep + urlencode(ret), code=303)
        return None

    @app.post("/sandbox/pay/<provider>/<out_trade_no>/approve")
    def shopper_approves(provider: str, out_trade_no: str):
        trade = page_trade(provider, out_trade_no)
        if not sandbox.approve(trade):
            return pay_page(trade, "This order can no longer be paid (expired or closed).", 409)
        return back_to_merchant(trade) or pay_page(trade, "Paid. 支付成功")

    @app.post("/sandbox/pay/<provider>/<out_trade_no>/decline")
    def shopper_declines(provider: str, out_trade_no: str):
        trade = page_trade(provider, out_trade_no)
        sandbox.decline(trade)
        return back_to_merchant(trade) or pay_page(trade, "Declined. 已取消")

    @app.post("/sandbox/pay/<provider>/<out_trade_no>/notify")
    def resend_notification(provider: str, out_trade_no: str):
        trade = page_trade(provider, out_trade_no)
        if trade.status not in ("SUCCESS", "REFUND"):
            abort(409)
        return {"status": sandbox.notify(trade)}

    @app.post("/sandbox/refund/<provider>/<out_trade_no>/<refund_no>/notify")
    def refund_result(provider: str, out_trade_no: str, refund_no: str):
        """Finish a processing refund (or tell a finished one again): its result callback is sent."""
        found = sandbox.refund(provider, refund_no)
        if found is None or found[0].out_trade_no != out_trade_no:
            abort(404)
        return {"status": sandbox.finish_refund(*found)}

    @app.post("/sandbox/mall/<kind>")
    def mall_notify(kind: str):
        """Send a 智慧商圈 notification to `notify_url` (the mall's consumption callback): kind "pay" with
        openid, amount (fen), shop_number; kind "refund" with transaction_id, amount, pay_amount."""
        form = request.form
        try:
            amount, pay_amount = int(form.get("amount", "")), int(form.get("pay_amount") or 0)
        except ValueError:
            abort(400)
        if kind not in ("pay", "refund") or amount <= 0 or not form.get("notify_url") or not form.get("openid"):
            abort(400)
        if kind == "refund" and not form.get("transaction_id"):
            abort(400)
        headers, body, txn = sandbox.mall_event("paid" if kind == "pay" else "refund", form["openid"], amount,
                                                form.get("shop_number") or "S001", form.get("shop_name", ""),
                                                form.get("transaction_id", ""), pay_amount)
        return {"transaction_id": txn, "status": sandbox._post(form["notify_url"], headers, body)}

    @app.get("/sandbox/credentials.json")
    def credentials():
        """The merchant's side of the test keys (what a real merchant downloads from the provider's console)."""
        if request.remote_addr not in ("127.0.0.1", "::1"):
            abort(403)
        return keys.merchant_credentials()

    @app.get("/")
    def index():
        with sandbox.lock:
            trades = list(sandbox.trades.values())[-50:]
        rows = "".join(f"<li><a href='/sandbox/pay/{t.provider}/{t.out_trade_no}'>{t.provider} {t.out_trade_no}</a> "
                       f"¥{_yuan(t.amount)} {t.status}</li>" for t in reversed(trades))
        return ("<!doctype html><meta charset=utf-8><title>Payment sandbox</title>"
                f"<h1>Payment sandbox</h1><ul>{rows}</ul>")

    return app


_BRIDGE = """(function () {
  var sandbox = SANDBOX_URL;
  window.WeixinJSBridge = {invoke: function (name, params, answer) {
    if (name !== "getBrandWCPayRequest") { answer({err_msg: name + ":fail"}); return; }
    fetch(sandbox + "/sandbox/jsapi/pay", {method: "POST", headers: {"Content-Type": "text/plain"},
                                           body: JSON.stringify(params)})
      .then(function (r) { return r.json(); })
      .then(function (d) { answer({err_msg: "get_brand_wcpay_request:" + (d.paid ? "ok" : "fail")}); },
            function () { answer({err_msg: "get_brand_wcpay_request:fail"}); });
  }};
})();"""


def jsapi_bridge_script(sandbox_url: str) -> str:
    """WeChat's `WeixinJSBridge` for a browser that is not WeChat (a test injects it before the page loads):
    getBrandWCPayRequest asks the sandbox to pay the prepay_id, and answers as WeChat does."""
    return _BRIDGE.replace("SANDBOX_URL", json.dumps(sandbox_url))


def _refund(sandbox: Sandbox, trade: Trade, refund_no: str, amount: int,
            notify_url: str = "") -> tuple[Refund | None, str, bool]:
    """(the refund, "" or why none was made, whether the number was asked for before): under the lock, so that two
    requests of one number at once are one refund and one repeat."""
    with sandbox.lock:
        if sandbox.refund_mode == "down":
            return None, "down", False
        for r in trade.refunds:
            if r.no == refund_no:  # the same refund number again: the same refund, not a second one
                return r, "", True
        if trade.status != "SUCCESS":
            return None, "trade not paid", False
        if sandbox.refund_mode == "balance":
            return None, "balance", False
        if amount <= 0 or trade.refunded + amount > trade.amount:
            return None, "exceeds", False
        processing = (sandbox.refund_mode, trade.provider) in (("processing", "wechat"), ("unmoved", "alipay"))
        status = "PROCESSING" if processing else "SUCCESS"
        refund = Refund(refund_no, amount, time.time() * 1000, "50" + secrets.token_hex(14), status, notify_url)
        trade.refunds.append(refund)
        if trade.refunded == trade.amount and trade.provider == "wechat":
            trade.status = "REFUND"
        return refund, "", False
