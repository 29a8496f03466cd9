"""Alipay through `python-alipay-sdk` (RSA2): alipay.trade.wap.pay (a signed page URL the phone's browser
opens) and alipay.trade.precreate (a QR code), query, close, refund, the daily bill, and asynchronous
notifications verified with Alipay's public key."""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from datetime import datetime, timedelta, timezone
from urllib.request import urlopen

from alipay import AliPay
from alipay.exceptions import AliPayException

from portal.payments.money import fen_from_yuan, yuan
from portal.payments.providers.base import (
    Ack,
    BillRow,
    ForgedNotification,
    Notice,
    PaymentStart,
    ProviderError,
    RefundResult,
    TradeState,
    bill_time_ms,
)

log = logging.getLogger(__name__)
CHINA = timezone(timedelta(hours=8))
SUCCESS = "10000"
BUSINESS_FAILED = "40004"  # Alipay's public code for "the call was right, the business says no"
_STATES = {"WAIT_BUYER_PAY": "unpaid", "TRADE_SUCCESS": "paid", "TRADE_FINISHED": "paid",
           "TRADE_CLOSED": "closed"}
# Refund refusals Alipay documents as passing: the merchant's Alipay balance is too low ("top up, then refund
# again") or the trade is frozen for now (Alipay's support settles it). The refund stays open under its
# out_request_no and the sweep asks again, later each time; operators see it meanwhile.
_REFUSED_FOR_NOW = ("ACQ.SELLER_BALANCE_NOT_ENOUGH", "ACQ.REASON_TRADE_BEEN_FREEZEN")
# "System error: call again with the same parameters" (AQC.: the spelling in part of Alipay's own docs).
_TRY_AGAIN = ("ACQ.SYSTEM_ERROR", "AQC.SYSTEM_ERROR")


def alipay_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=CHINA).strftime("%Y-%m-%d %H:%M:%S")


class AlipayProvider:
    name = "alipay"
    methods = ("wap", "qr")

    def __init__(self, appid: str, app_private_key: str, alipay_public_key: str, gateway: str | None = None,
                 timeout_s: float = 15) -> None:
        try:
            self._ali = AliPay(appid=appid, app_notify_url=None, app_private_key_string=app_private_key,
                               alipay_public_key_string=alipay_public_key, sign_type="RSA2")
        except (ValueError, IndexError, TypeError) as exc:
            raise ProviderError(f"Alipay setup failed: {exc}") from exc
        self._ali._config.timeout = timeout_s
        self.appid = appid
        if gateway:  # the local sandbox, or Alipay's own sandbox gateway
            self._ali._gateway = gateway

    def _call(self, what: str, fn, *args, **kwargs) -> dict:
        try:
            return fn(*args, **kwargs)
        except AliPayException as exc:
            raise ProviderError(f"Alipay {what}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - urllib errors, AliPayValidationError (bad response signature)
            raise ProviderError(f"Alipay {what}: {exc.__class__.__name__}: {exc}") from exc

    def start(self, order_id: str, amount: int, description: str, method: str, expires_ms: int,
              client_ip: str, notify_url: str, return_url: str, payer: str = "") -> PaymentStart:
        """`payer` (WeChat Pay JSAPI's openid) means nothing here: Alipay's pages sign the buyer in themselves."""
        if method == "wap":
            query = self._ali.api_alipay_trade_wap_pay(subject=description[:256], out_trade_no=order_id,
                                                       total_amount=yuan(amount), return_url=return_url,
                                                       notify_url=notify_url, time_expire=alipay_time(expires_ms))
            return PaymentStart("redirect", f"{self._ali._gateway}?{query}")
        data = self._call("precreate", self._ali.api_alipay_trade_precreate, subject=description[:256],
                          out_trade_no=order_id, total_amount=yuan(amount), notify_url=notify_url,
                          time_expire=alipay_time(expires_ms))
        if data.get("code") != SUCCESS or not data.get("qr_code"):
            raise ProviderError(f"Alipay refused the order: {data.get('sub_code') or data.get('code')}")
        return PaymentStart("qr", data["qr_code"])

    def verify(self, headers, body: bytes, form: dict[str, str]) -> Notice:
        data = dict(form)
        signature = data.pop("sign", "")
        try:
            ok = bool(signature) and self._ali.verify(data, signature)
        except Exception as exc:  # noqa: BLE001 - bad base64, unknown sign type
            raise ForgedNotification(str(exc)) from exc
        if not ok or data.get("app_id") != self.appid:
            raise ForgedNotification("RSA2 signature did not verify")
        order_id = data.get("out_trade_no", "")
        if data.get("out_biz_no") and data.get("refund_fee"):
            # A refund's notification (trade_status_sync with the refund's fields: out_biz_no is our
            # out_request_no; refund_fee is the trade's total refunded so far, not this refund's amount).
            return Notice(order_id, False, 0, data.get("trade_no", ""), refund_no=data["out_biz_no"],
                          refund_state="done")
        if data.get("trade_status") in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            try:
                amount = fen_from_yuan(data.get("total_amount", ""))
            except ValueError:
                amount = -1
            return Notice(order_id, True, amount, data.get("trade_no", ""),
                          paid_ms=bill_time_ms(data.get("gmt_payment") or ""))
        return Notice(order_id, False)

    def ack(self, ok: bool) -> Ack:
        # Alipay reads exactly "success"; anything else means "send it again later".
        return Ack(200, "success", "text/plain") if ok else Ack(400, "failure", "text/plain")

    def query(self, order_id: str) -> TradeState:
        data = self._call("query", self._ali.api_alipay_trade_query, out_trade_no=order_id)
        if data.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return TradeState("unknown")  # a WAP trade exists only once the shopper opened the page
        if data.get("code") != SUCCESS:
            raise ProviderError(f"Alipay query: {data.get('sub_code') or data.get('code')}")
        return TradeState(_STATES.get(data.get("trade_status", ""), "unpaid"),
                          fen_from_yuan(data.get("total_amount") or "0"), data.get("trade_no", ""),
                          paid_ms=bill_time_ms(data.get("send_pay_date") or ""))

    def close(self, order_id: str) -> None:
        data = self._call("close", self._ali.api_alipay_trade_close, out_trade_no=order_id)
        if data.get("code") != SUCCESS and data.get("sub_code") != "ACQ.TRADE_NOT_EXIST":
            raise ProviderError(f"Alipay close: {data.get('sub_code') or data.get('code')}")

    def refund(self, order_id: str, txn: str, refund_no: str, amount: int, total: int, reason: str,
               notify_url: str) -> RefundResult:
        data = self._call("refund", self._ali.api_alipay_trade_refund, refund_amount=yuan(amount),
                          out_trade_no=order_id, out_request_no=refund_no, refund_reason=reason[:256])
        if data.get("code") == SUCCESS:
            # 10000 says the call went through; the money moved only with fund_change "Y" (Alipay's refund API).
            # "N" (a repeat of a refund already made, or one not done yet): accepted, not final, so the refund query
            # (REFUND_SUCCESS) decides before the ledger books it.
            moved = data.get("fund_change") == "Y"
            return RefundResult(True, refund_no, final=moved, message="" if moved else "fund_change N")
        refusal = str(data.get("sub_code") or data.get("code"))
        if data.get("code") == "20000" or refusal in _TRY_AGAIN:
            raise ProviderError(f"Alipay refund: {refusal}")  # try again later
        # Only a business refusal (40004, ACQ.*) is final; the others are the portal's set-up (20001 the
        # authorisation, 40001/40002 the request or its signature: a replaced key, 40006 a permission not
        # granted): the refund stays open, shown to operators, and is sent again once that is fixed.
        for_now = refusal in _REFUSED_FOR_NOW or data.get("code") != BUSINESS_FAILED
        return RefundResult(False, message=refusal, problem=refusal if for_now else "")

    def refund_query(self, order_id: str, refund_no: str) -> RefundResult | None:
        data = self._call("refund query", self._ali.api_alipay_trade_fastpay_refund_query, refund_no,
                          out_trade_no=order_id)
        if data.get("code") != SUCCESS:
            raise ProviderError(f"Alipay refund query: {data.get('sub_code') or data.get('code')}")
        # Alipay: the query's data with refund_status REFUND_SUCCESS, or none at all, is a refund done; no data (no
        # out_request_no) is a refund it does not have (not received, or not done): asked again under its number.
        if data.get("out_request_no") and data.get("refund_status", "REFUND_SUCCESS") in ("", "REFUND_SUCCESS"):
            return RefundResult(True, refund_no)
        return None

    # ---- payment agreements (商户代扣: "leave first, pay after") ----

    def agreement_sign_url(self, external_no: str, return_url: str, notify_url: str) -> str:
        """The page where the shopper signs a withholding agreement (alipay.user.agreement.page.sign); Alipay
        sends them back to `return_url` with `agreement_no` (checked with `agreement_status`)."""
        data = self._ali.build_body("alipay.user.agreement.page.sign", {
            "personal_product_code": "GENERAL_WITHHOLDING_P", "product_code": "GENERAL_WITHHOLDING",
            "sign_scene": "INDUSTRY|PARKING", "external_agreement_no": external_no,
            "access_params": {"channel": "ALIPAYAPP"}}, return_url=return_url, notify_url=notify_url)
        return f"{self._ali._gateway}?{self._ali.sign_data(data)}"

    def agreement_status(self, agreement_no: str) -> tuple[str, str]:
        """(status, external agreement no): status "active" (NORMAL), "inactive" or "unknown"."""
        data = self._call("agreement query", self._ali.server_api, "alipay.user.agreement.query",
                          {"agreement_no": agreement_no, "personal_product_code": "GENERAL_WITHHOLDING_P"})
        if data.get("code") != SUCCESS:
            return "unknown", ""
        return ("active" if data.get("status") == "NORMAL" else "inactive"), data.get("external_agreement_no", "")

    def charge_agreement(self, order_id: str, amount: int, description: str, agreement_no: str,
                         notify_url: str) -> TradeState:
        """Charge a signed agreement now (alipay.trade.pay, product GENERAL_WITHHOLDING): no shopper present.
        The same order id again is the same trade (never a second charge)."""
        data = self._call("agreement charge", self._ali.server_api, "alipay.trade.pay", {
            "out_trade_no": order_id, "total_amount": yuan(amount), "subject": description[:256],
            "product_code": "GENERAL_WITHHOLDING", "agreement_params": {"agreement_no": agreement_no}},
            notify_url=notify_url)
        if data.get("code") == SUCCESS:
            return TradeState("paid", fen_from_yuan(data.get("total_amount") or "0"), data.get("trade_no", ""))
        if data.get("code") == "10003":  # "waiting for the user": the callback or a query will tell
            return TradeState("unpaid")
        return TradeState("failed")

    def bill(self, day: str) -> list[BillRow]:
        data = self._call("bill", self._ali.server_api, "alipay.data.dataservice.bill.downloadurl.query",
                          {"bill_type": "trade", "bill_date": day})
        if data.get("code") != SUCCESS:
            raise ProviderError(f"Alipay bill: {data.get('sub_code') or data.get('code')}")
        try:
            with urlopen(data["bill_download_url"], timeout=30) as resp:  # noqa: S310 - the URL Alipay signed
                raw = resp.read()
        except OSError as exc:
            raise ProviderError(f"Alipay bill download: {exc}") from exc
        return parse_bill_zip(raw)


def parse_bill_zip(raw: bytes) -> list[BillRow]:
    """Alipay's bill: a zip of GBK CSV files; the detail file (业务明细, not 汇总) has comment lines starting
    with '#', a header row, one row per payment (业务类型 交易) or refund (退款, negative amounts)."""
    rows: list[BillRow] = []
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for name in archive.namelist():
            text = archive.read(name).decode("gbk")
            if "汇总" in name:
                continue
            lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
            reader = csv.reader(lines)
            header = [h.strip() for h in next(reader, [])]
            if "商户订单号" not in header:
                continue
            col = {h: i for i, h in enumerate(header)}
            for raw_row in reader:
                if len(raw_row) < len(header):
                    continue
                row = {h: raw_row[i].strip() for h, i in col.items()}
                kind = {"交易": "paid", "退款": "refund"}.get(row["业务类型"])
                if kind:
                    rows.append(BillRow("alipay", row["商户订单号"], row["支付宝交易号"], kind,
                                        abs(fen_from_yuan(row["订单金额（元）"])),
                                        row["退款批次号/请求号"] if kind == "refund" else "",
                                        bill_time_ms(row.get("完成时间") or row.get("创建时间", ""))))
    return rows
