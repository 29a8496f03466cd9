"""The Tencent Cloud SMS provider through the real SDK, against a loopback stand-in for the API: the signed
SendSms request it makes (template, parameters, E.164 number) and how each answer maps onto delivered /
retried / refused; the settings that configure it."""

from __future__ import annotations

import json
from http.server import ThreadingHTTPServer

import pytest

from core.settings import NotifySettings, Settings
from portal.notify.channels import Contact, Message, Refused, Retry
from portal.notify.outbox import Job
from portal.notify.sms import SmsChannel, TencentSmsProvider, template_for
from portal.notify.worker import render
from tests.fake_http import JsonHandler, serve_in_thread


class TencentStandIn:
    def __init__(self) -> None:
        self.requests: list[tuple[dict, dict]] = []
        self.answer: dict = {"SendStatusSet": [{"Code": "Ok", "Message": "send success", "PhoneNumber": "+86"}]}
        service = self

        class Handler(JsonHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.read_json()
                service.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.answer(200, {"Response": {**service.answer, "RequestId": "r-1"}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"127.0.0.1:{self.server.server_address[1]}"
        serve_in_thread(self.server)


@pytest.fixture
def tencent():
    service = TencentStandIn()
    yield service
    service.server.shutdown()
    service.server.server_close()


def channel(db, endpoint: str, templates: dict[str, str] | None = None) -> SmsChannel:
    settings = NotifySettings(sms_provider="tencent", tencent_secret_id="AKIDtest", tencent_secret_key="secret",
                              tencent_app_id="1400000001", tencent_sign_name="海港商场",
                              tencent_endpoint=endpoint,
                              sms_templates=templates or {"queue.called": "2000001:number|place",
                                                          "cinema.ticket": "2000002"})
    return SmsChannel(TencentSmsProvider(settings, timeout_s=30), db, per_shopper_day=10)


MESSAGE = Message(venue="demo", event="queue.called", lang="zh", title="请就座", body="A012", url="https://p/x?c=t",
                  params={"number": "A012", "place": "翡翠轩"})
CONTACT = Contact(lang="zh", phone="+8613800138000", push={})


def test_send_sms_request(db, tencent):
    channel(db, tencent.endpoint).send("s-1", "phone", CONTACT, MESSAGE)
    [(headers, body)] = tencent.requests
    assert headers["x-tc-action"] == "SendSms" and headers["x-tc-version"] == "2021-01-11"
    assert headers["authorization"].startswith("TC3-HMAC-SHA256 Credential=AKIDtest/")
    assert "secret" not in json.dumps(body)
    assert body["PhoneNumberSet"] == ["+8613800138000"] and body["TemplateId"] == "2000001"
    assert body["TemplateParamSet"] == ["A012", "翡翠轩"] and body["SmsSdkAppId"] == "1400000001"
    assert body["SignName"] == "海港商场"


def test_the_ticket_template_gets_the_link(db, tencent):
    ticket = Message(venue="demo", event="cinema.ticket", lang="en", title="Ticket", body="", url="https://p/t?c=x")
    channel(db, tencent.endpoint).send("s-1", "phone", CONTACT, ticket)
    assert tencent.requests[0][1]["TemplateParamSet"] == ["https://p/t?c=x"]


@pytest.mark.parametrize(("lang", "said"), [("zh", "12月8日周二 19:30"), ("en", "Tue, Dec 8, 19:30")])
def test_a_template_parameter_given_in_both_languages_is_sent_in_the_shoppers(db, tencent, lang, said):
    """A job's `<name>_en` / `<name>_zh` (a cinema ticket's `time_en`, cinema/notices.py) fill the template's `<name>`
    in the shopper's language; the plain `<name>`, the consoles' `2026-12-08 19:30`, only where neither is given."""
    job = Job(id="j-1", venue="demo", shopper="s-1", event="queue.called", created=0.0,
              data={"title_en": "Ticket", "title_zh": "电影票", "number": "2026-12-08 19:30",
                    "number_en": "Tue, Dec 8, 19:30", "number_zh": "12月8日周二 19:30", "place": "翡翠轩"})
    contact = Contact(lang=lang, phone="+8613800138000", push={})
    message = render(job, contact, "https://p/x?c=t")
    assert message.params["number"] == said and message.params["place"] == "翡翠轩"
    channel(db, tencent.endpoint).send("s-1", "phone", contact, message)
    assert tencent.requests[0][1]["TemplateParamSet"] == [said, "翡翠轩"]


@pytest.mark.parametrize("answer, outcome", [
    ({"SendStatusSet": [{"Code": "LimitExceeded.PhoneNumberThirtySecondLimit", "Message": "too often"}]}, Retry),
    ({"Error": {"Code": "InternalError.Timeout", "Message": "x"}}, Retry),
    ({"SendStatusSet": [{"Code": "InvalidParameterValue.IncorrectPhoneNumber", "Message": "bad"}]}, Refused),
    ({"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "x"}}, Refused),
    ({"Error": {"Code": "FailedOperation.TemplateIncorrectOrUnapproved", "Message": "x"}}, Refused),
])
def test_answers_map_to_retry_or_refused(db, tencent, answer, outcome):
    tencent.answer = answer
    with pytest.raises(outcome):
        channel(db, tencent.endpoint).send("s-1", "phone", CONTACT, MESSAGE)


def test_an_event_without_a_template_is_refused_without_a_request(db, tencent):
    other = Message(venue="demo", event="activities.group_done", lang="zh", title="x", body="", url="")
    with pytest.raises(Refused, match="no SMS template"):
        channel(db, tencent.endpoint).send("s-1", "phone", CONTACT, other)
    assert tencent.requests == []


def test_templates_setting():
    assert template_for({"a.b": "123:number|link"}, "a.b") == ("123", ["number", "link"])
    assert template_for({"a.b": "123"}, "a.b") == ("123", ["link"])
    assert template_for({}, "a.b") is None
    both = {"a.b": "123:number", "a.b.en": "456:number|link"}
    assert template_for(both, "a.b", "en") == ("456", ["number", "link"]) and template_for(both, "a.b", "zh") == (
        "123", ["number"]) and template_for(both, "a.b") == ("123", ["number"])


@pytest.mark.parametrize(("lang", "template"), [("en", "3000002"), ("zh", "3000001")])
def test_a_shopper_reading_english_gets_the_english_template_where_there_is_one(db, tencent, lang, template):
    """A provider approves each template's wording: `event.en` is the English one, the event's own the rest's."""
    templates = {"queue.called": "3000001:number", "queue.called.en": "3000002:number"}
    message = Message(venue="demo", event="queue.called", lang=lang, title="x", body="", url="",
                      params={"number": "A1"})
    channel(db, tencent.endpoint, templates).send("s-1", "phone", CONTACT, message)
    assert tencent.requests[0][1]["TemplateId"] == template and tencent.requests[0][1]["TemplateParamSet"] == ["A1"]


def test_provider_is_configured_by_environment(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "SMS_PROVIDER": "tencent", "TENCENTCLOUD_SECRET_ID": "AKID",
           "TENCENTCLOUD_SECRET_KEY": "k", "TENCENT_SMS_APP_ID": "1400", "TENCENT_SMS_SIGN_NAME": "商场",
           "SMS_TEMPLATES": "queue.called=1:number,cinema.ticket=2"}
    notify = Settings.from_env(env).notify
    assert notify.sms_provider == "tencent" and notify.sms_templates == {"queue.called": "1:number",
                                                                        "cinema.ticket": "2"}
    assert "AKID" not in repr(notify) and "vapid_private_key" not in repr(notify)  # secrets stay out of reprs
    with pytest.raises(ValueError, match="TENCENTCLOUD_SECRET_KEY"):
        Settings.from_env({**env, "TENCENTCLOUD_SECRET_KEY": ""})
    with pytest.raises(ValueError, match="SMS_PROVIDER"):
        Settings.from_env({**env, "SMS_PROVIDER": "carrier-pigeon"})
    with pytest.raises(ValueError, match="SMS_TEMPLATES"):
        Settings.from_env({**env, "SMS_TEMPLATES": "queue.called"})


def test_vapid_key_is_generated_once_and_required_with_a_shared_store(tmp_path):
    first = Settings.from_env({"DATA_DIR": str(tmp_path)}).notify.vapid_private_key
    assert first == Settings.from_env({"DATA_DIR": str(tmp_path)}).notify.vapid_private_key
    shared = {"DATA_DIR": str(tmp_path / "other"), "REDIS_URL": "redis://10.0.0.5:6379/0", "SECRET_KEY": "s" * 32,
              "MAC_HASH_KEY": "m" * 32, "PHONE_KEY": "p" * 32}  # keys of 32 bytes: shorter ones start with a warning
    with pytest.raises(ValueError, match="VAPID_PRIVATE_KEY is not set"):
        Settings.from_env(shared)
    with pytest.raises(ValueError, match="P-256"):
        Settings.from_env({**shared, "VAPID_PRIVATE_KEY": "change-me"})
    assert Settings.from_env({**shared, "VAPID_PRIVATE_KEY": first}).notify.vapid_private_key == first
