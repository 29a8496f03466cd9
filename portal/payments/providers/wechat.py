"""WeChat Pay API v3 through the `wechatpayv3` SDK: JSAPI (WeChat's own pay sheet, opened by the page inside
WeChat's browser), H5 (a page the phone's browser opens, which hands over to WeChat) and Native (a QR code for
another phone to scan), query, close, refund, trade bill, and callbacks verified with WeChat Pay's public key or a
platform certificate (signature: wechat_keys.py) and the APIv3 key (AES-256-GCM resource).

JSAPI pays as the shopper's openid under the merchant's appid (an official account's): the official account's
silent web sign-in (snsapi_base: `authorize_url`, then `openid` exchanges the code it sends back with the
account's AppSecret). The openid goes into the order placed at WeChat Pay and nowhere else: never stored, never
logged."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import re
import secrets
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import requests
from wechatpayv3 import WeChatPay, WeChatPayType

from core.payment_settings import WECHAT_API_URL, WECHAT_OAUTH_URL
from portal.payments.money import fen_from_yuan
from portal.payments.providers.base import (
    Ack,
    BillRow,
    ForgedNotification,
    MallNotice,
    Notice,
    PaymentStart,
    ProviderError,
    RefundResult,
    TradeState,
    bill_time_ms,
    iso_time_ms,
)
from portal.payments.providers.wechat_keys import SignatureKeys

log = logging.getLogger(__name__)
CHINA = timezone(timedelta(hours=8))  # WeChat Pay's times are RFC 3339 in China Standard Time
_STATES = {"SUCCESS": "paid", "REFUND": "refunded", "NOTPAY": "unpaid", "USERPAYING": "unpaid",
           "CLOSED": "closed", "REVOKED": "closed", "PAYERROR": "failed"}
# ABNORMAL: the money waits at WeChat Pay (the shopper's card was closed) until the merchant sends it elsewhere
# (merchant platform, or the abnormal-refund API): not final, asked about again and shown to operators.
# CLOSED is final for that refund number (WeChat Pay: top up, then a new refund number).
_REFUND_STATES = {"SUCCESS": "done", "PROCESSING": "processing", "CLOSED": "failed", "ABNORMAL": "processing"}
# Refusals WeChat Pay documents as "top up the merchant balance, then the same refund again" (403 NOT_ENOUGH):
# the refund stays open under its number and the sweep asks again, later each time.
_REFUSED_FOR_NOW = ("NOT_ENOUGH",)
# Refusals for the portal's own set-up, not the refund: the request's signature (a clock gone wrong, a replaced
# merchant key: 401 SIGN_ERROR), a permission or product not granted (NO_AUTH), a merchant id or app id that does
# not fit. The refund stays open (a problem for operators) and the sweep sends it again once it is fixed.
_REFUSED_AS_SETUP = ("SIGN_ERROR", "NO_AUTH", "MCH_NOT_EXISTS", "APPID_MCHID_NOT_MATCH")
_OPENID = re.compile(r"[A-Za-z0-9_-]{6,64}")  # WeChat's openids: 28 characters of URL-safe base64 today
_BUSY = (-1, 45009)  # the code exchange's "system busy" and "API quota used up": WeChat's side, not the code's


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=CHINA).isoformat(timespec="seconds")


class WeChatPayProvider:
    name = "wechat"

    def __init__(self, mchid: str, appid: str, private_key: str, cert_serial_no: str, apiv3_key: str,
                 cert_dir: str, gateway: str | None = None, timeout: tuple[float, float] = (5, 20),
                 public_key: str | None = None, public_key_id: str | None = None, app_secret: str = "",
                 oauth_url: str = WECHAT_OAUTH_URL, api_url: str = WECHAT_API_URL) -> None:
        """Public-key mode (public_key and its PUB_KEY_ID_... id): signatures are checked with WeChat Pay's public
        key, and with any valid platform certificate left in cert_dir (a switch under way); nothing is downloaded.
        Else cert_dir holds the platform certificates (<serial>.pem); when it is empty the SDK downloads them from
        /v3/certificates now, decrypting them with the APIv3 key. app_secret: the official account's AppSecret
        (appid's), which JSAPI needs for the shopper's openid; without it there is no JSAPI. oauth_url / api_url:
        where the sign-in and the code exchange go (WeChat's, or the sandbox)."""
        self.methods = ("jsapi", "h5", "native") if app_secret else ("h5", "native")
        self._appid, self._app_secret, self._timeout = appid, app_secret, timeout
        self._oauth_url, self._api_url = oauth_url.rstrip("/"), api_url.rstrip("/")
        try:
            self._pay = WeChatPay(wechatpay_type=WeChatPayType.NATIVE, mchid=mchid, private_key=private_key,
                                  cert_serial_no=cert_serial_no, appid=appid, apiv3_key=apiv3_key,
                                  cert_dir=cert_dir, timeout=timeout, public_key=public_key or None,
                                  public_key_id=public_key_id or None)
        except Exception as exc:  # noqa: BLE001 - the SDK raises bare Exception (no certificate, bad key)
            raise ProviderError(f"WeChat Pay setup failed: {exc}") from exc
        if gateway:  # the local sandbox (or WeChat Pay's backup domain): every later call goes there
            self._pay._core._gate_way = gateway.rstrip("/")
        self.keys = SignatureKeys(self._pay._core)
        if public_key:
            self.keys.load_saved(cert_dir)

    def _call(self, what: str, fn, *args, **kwargs) -> tuple[int, object]:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - network errors and "failed to verify the signature"
            raise ProviderError(f"WeChat Pay {what}: {exc.__class__.__name__}: {exc}") from exc

    def start(self, order_id: str, amount: int, description: str, method: str, expires_ms: int,
              client_ip: str, notify_url: str, return_url: str, payer: str = "") -> PaymentStart:
        """`payer`: JSAPI's openid (`openid`), required there."""
        common = dict(description=description[:127], out_trade_no=order_id,
                      amount={"total": int(amount), "currency": "CNY"}, time_expire=rfc3339(expires_ms),
                      notify_url=notify_url)
        if method == "jsapi":
            return self._jsapi(payer, common)
        if method == "h5":
            code, body = self._call("h5 order", self._pay.pay, pay_type=WeChatPayType.H5, scene_info={
                "payer_client_ip": client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}}, **common)
            url_field = "h5_url"
        else:
            code, body = self._call("native order", self._pay.pay, pay_type=WeChatPayType.NATIVE, **common)
            url_field = "code_url"
        data = _json(body)
        if code != 200 or url_field not in data:
            raise ProviderError(f"WeChat Pay refused the order: {code} {data.get('code', '')}")
        if method == "h5":  # where WeChat sends the shopper back (documented: append redirect_url)
            return PaymentStart("redirect", f"{data['h5_url']}&redirect_url={quote(return_url, safe='')}")
        return PaymentStart("qr", data["code_url"])

    def _jsapi(self, payer: str, common: dict) -> PaymentStart:
        """A JSAPI order for `payer`, and what the page hands WeixinJSBridge's getBrandWCPayRequest: signed with
        the merchant's key over appId, timeStamp, nonceStr and package, one per line (signType RSA, API v3)."""
        if not payer or "jsapi" not in self.methods:
            raise ProviderError("WeChat Pay JSAPI: no payer openid, or no WECHAT_APP_SECRET")
        code, body = self._call("jsapi order", self._pay.pay, pay_type=WeChatPayType.JSAPI, payer={"openid": payer},
                                **common)
        data = _json(body)
        if code != 200 or not data.get("prepay_id"):
            raise ProviderError(f"WeChat Pay refused the order: {code} {data.get('code', '')}")
        params = {"appId": self._appid, "timeStamp": str(int(time.time())), "nonceStr": secrets.token_hex(16),
                  "package": f"prepay_id={data['prepay_id']}", "signType": "RSA"}
        params["paySign"] = self._pay.sign([params["appId"], params["timeStamp"], params["nonceStr"],
                                            params["package"]])
        return PaymentStart("bridge", "", params)

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """The official account's silent sign-in (snsapi_base: no consent screen), which sends WeChat's browser
        back to `redirect_uri` with `code` and `state`. WeChat reads the parameters in this order."""
        return (f"{self._oauth_url}/connect/oauth2/authorize?appid={quote(self._appid, safe='')}"
                f"&redirect_uri={quote(redirect_uri, safe='')}&response_type=code&scope=snsapi_base"
                f"&state={quote(state, safe='')}#wechat_redirect")

    def openid(self, code: str) -> str:
        """The shopper's openid for the sign-in's `code` (usable once, for 5 minutes); "" when WeChat refuses the
        code (used, expired, another account's). ProviderError when WeChat cannot answer. The request's URL
        carries the AppSecret: no error here repeats it (requests' own messages name the URL)."""
        try:
            answer = requests.get(f"{self._api_url}/sns/oauth2/access_token", timeout=self._timeout, params={
                "appid": self._appid, "secret": self._app_secret, "code": code, "grant_type": "authorization_code"})
            data = answer.json() if answer.status_code == 200 else None
        except (requests.RequestException, ValueError) as exc:
            raise ProviderError(f"WeChat sign-in: {exc.__class__.__name__}") from None
        if not isinstance(data, dict):
            raise ProviderError(f"WeChat sign-in: HTTP {answer.status_code}")
        if data.get("errcode") in _BUSY:
            raise ProviderError(f"WeChat sign-in: errcode {data['errcode']}")
        openid = str(data.get("openid") or "")
        return openid if _OPENID.fullmatch(openid) else ""

    def verify(self, headers, body: bytes, form: dict[str, str]) -> Notice:
        try:
            result = self._pay.callback(headers, body)
        except Exception as exc:  # noqa: BLE001 - unknown algorithm, malformed JSON, certificate fetch failed
            raise ForgedNotification(str(exc)) from exc
        if not result:
            raise ForgedNotification("signature or AES-GCM tag did not verify")
        resource = result.get("resource") or {}
        order_id = str(resource.get("out_trade_no", ""))
        event = str(result.get("event_type", ""))
        amount = resource.get("amount") or {}
        if event == "TRANSACTION.SUCCESS" and resource.get("trade_state") == "SUCCESS":
            # The currency is checked against the order's like the amount (a domestic merchant id is CNY only,
            # which is what WeChat Pay means when it states none).
            return Notice(order_id, True, int(amount.get("total", -1)), str(resource.get("transaction_id", "")),
                          currency=str(amount.get("currency") or "CNY"),
                          paid_ms=iso_time_ms(resource.get("success_time")))
        if event.startswith("REFUND.") and resource.get("out_refund_no"):  # SUCCESS, ABNORMAL, CLOSED
            status = str(resource.get("refund_status", ""))
            return Notice(order_id, False, int(amount.get("refund", -1)), str(resource.get("transaction_id", "")),
                          refund_no=str(resource["out_refund_no"]),
                          refund_state=_REFUND_STATES.get(status, "processing"),
                          refund_id=str(resource.get("refund_id", "")),
                          problem=status if status in ("ABNORMAL", "CLOSED") else "")
        return Notice(order_id, False)

    def event(self, headers, body: bytes) -> dict:
        """Any verified WeChat Pay event (the 智慧商圈 mall notifications): its fields with `resource`
        decrypted; ForgedNotification when the signature or the AES-GCM tag does not verify."""
        try:
            result = self._pay.callback(headers, body)
        except Exception as exc:  # noqa: BLE001 - unknown algorithm, malformed JSON, certificate fetch failed
            raise ForgedNotification(str(exc)) from exc
        if not result or not isinstance(result.get("resource"), dict):
            raise ForgedNotification("signature or AES-GCM tag did not verify")
        return result

    def mall_notice(self, event: dict) -> MallNotice | None:
        """A verified event as a 智慧商圈 payment (MALL_TRANSACTION.SUCCESS) or refund (MALL_REFUND.SUCCESS);
        None for any other event (the authorisation results are acknowledged only)."""
        r = event["resource"]
        kind = {"MALL_TRANSACTION.SUCCESS": "paid", "MALL_REFUND.SUCCESS": "refund"}.get(str(event.get("event_type")))
        if kind is None or not r.get("transaction_id") or not r.get("openid"):
            return None
        if kind == "paid":
            return MallNotice("paid", str(r["transaction_id"]), str(r["openid"]), int(r.get("amount") or 0),
                              int(r.get("amount") or 0), str(r.get("shop_number", "")), str(r.get("shop_name", "")),
                              when=str(r.get("time_end", "")))
        return MallNotice("refund", str(r["transaction_id"]), str(r["openid"]), int(r.get("refund_amount") or 0),
                          int(r.get("pay_amount") or 0), str(r.get("shop_number", "")), str(r.get("shop_name", "")),
                          refund_id=str(r.get("refund_id", "")), when=str(r.get("refund_time", "")))

    def sync_mall_points(self, notice: MallNotice, points: int, total: int, now_ms: int) -> None:
        """商圈会员积分同步: tell WeChat Pay the points a mall payment earned (required before it sends
        that purchase's refunds). The SDK refuses zero points, so a purchase that earned none is not sent."""
        if points <= 0:
            return
        code, body = self._call("points sync", self._pay.points_notify, transaction_id=notice.txn,
                                openid=notice.openid, earn_points=True, increased_points=points,
                                points_update_time=rfc3339(now_ms), total_points=total)
        if code not in (200, 204):
            raise ProviderError(f"WeChat Pay points sync: {code} {_json(body).get('code', '')}")

    def ack(self, ok: bool) -> Ack:
        if ok:  # "HTTP 200 or 204, no body needed"
            return Ack(200, "", "application/json")
        return Ack(500, json.dumps({"code": "FAIL", "message": "失败"}, ensure_ascii=False), "application/json")

    def query(self, order_id: str) -> TradeState:
        code, body = self._call("query", self._pay.query, out_trade_no=order_id)
        data = _json(body)
        if code == 404 or data.get("code") == "ORDER_NOT_EXIST":
            return TradeState("unknown")
        if code != 200:
            raise ProviderError(f"WeChat Pay query: {code} {data.get('code', '')}")
        amount = data.get("amount") or {}
        return TradeState(_STATES.get(data.get("trade_state", ""), "unpaid"), int(amount.get("total", 0)),
                          str(data.get("transaction_id") or ""), str(amount.get("currency") or "CNY"),
                          paid_ms=iso_time_ms(data.get("success_time")))

    def close(self, order_id: str) -> None:
        code, body = self._call("close", self._pay.close, out_trade_no=order_id)
        if code not in (200, 204):
            raise ProviderError(f"WeChat Pay close: {code} {_json(body).get('code', '')}")

    def refund(self, order_id: str, txn: str, refund_no: str, amount: int, total: int, reason: str,
               notify_url: str) -> RefundResult:
        code, body = self._call("refund", self._pay.refund, out_refund_no=refund_no, out_trade_no=order_id,
                                amount={"refund": int(amount), "total": int(total), "currency": "CNY"},
                                reason=reason[:80] or None, notify_url=notify_url)
        data = _json(body)
        if code == 200 and data.get("status") in _REFUND_STATES:
            return _refund_result(data)
        if code >= 500 or data.get("code") in ("SYSTEM_ERROR", "FREQUENCY_LIMITED"):
            raise ProviderError(f"WeChat Pay refund: {code} {data.get('code', '')}")  # try again later
        refusal = str(data.get("code", ""))
        for_now = refusal in _REFUSED_FOR_NOW or refusal in _REFUSED_AS_SETUP or code == 401
        return RefundResult(False, message=f"{code} {refusal} {data.get('message', '')}".strip(),
                            problem=(refusal or str(code)) if for_now else "")

    def refund_query(self, order_id: str, refund_no: str) -> RefundResult | None:
        code, body = self._call("refund query", self._pay.query_refund, out_refund_no=refund_no)
        data = _json(body)
        if code == 404 or data.get("code") == "RESOURCE_NOT_EXISTS":
            return None
        if code != 200 or data.get("out_trade_no") not in (None, order_id):
            raise ProviderError(f"WeChat Pay refund query: {code} {data.get('code', '')}")
        return _refund_result(data)

    def bill(self, day: str) -> list[BillRow]:
        code, body = self._call("trade bill", self._pay.trade_bill, bill_date=day, tar_type="GZIP")
        data = _json(body)
        if code != 200:
            raise ProviderError(f"WeChat Pay trade bill: {code} {data.get('code', '')}")
        code, raw = self._call("bill download", self._pay.download_bill, data["download_url"])
        if code != 200 or not isinstance(raw, bytes):
            raise ProviderError(f"WeChat Pay bill download: {code}")
        if data.get("hash_type") == "SHA1" and hashlib.sha1(raw).hexdigest() != data.get("hash_value"):  # noqa: S324 - the provider's own checksum
            raise ProviderError("WeChat Pay bill: checksum mismatch")
        return parse_trade_bill(gzip.decompress(raw).decode("utf-8-sig"))


def _refund_result(data: dict) -> RefundResult:
    """A refund record (the refund's answer or its query): its status as a RefundResult."""
    status = str(data.get("status", ""))
    state = _REFUND_STATES.get(status, "processing")
    return RefundResult(state != "failed", str(data.get("refund_id", "")), status, final=state != "processing",
                        problem=status if status == "ABNORMAL" else "")


def parse_trade_bill(text: str) -> list[BillRow]:
    """WeChat Pay's trade bill (bill_type=ALL): a header row, one row per payment or refund (every field
    prefixed with a backquote), then a totals header and row, which are skipped."""
    rows = []
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None) or []
    col = {name.strip(): i for i, name in enumerate(header)}
    for raw in reader:
        if not raw or not raw[0].startswith("`"):
            break  # the totals section
        row = {name: raw[i].lstrip("`").strip() for name, i in col.items()}
        at_ms = bill_time_ms(row.get("交易时间", ""))
        if row["交易状态"] == "REFUND":
            rows.append(BillRow("wechat", row["商户订单号"], row["微信订单号"], "refund",
                                fen_from_yuan(row["退款金额"]), row["商户退款单号"], at_ms))
        elif row["交易状态"] == "SUCCESS":
            rows.append(BillRow("wechat", row["商户订单号"], row["微信订单号"], "paid", fen_from_yuan(row["订单金额"]),
                                at_ms=at_ms))
    return rows


def _json(body) -> dict:
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
