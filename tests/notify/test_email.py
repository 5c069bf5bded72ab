"""E-mail through a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import socket

import pytest

from wuye.notify.base import Message, Outcome
from wuye.notify.email import SMTPBackend

pytestmark = pytest.mark.once  # no database: scripts/test.sh runs it in one pass only

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts and refuses some recipients or some messages."""

    def __init__(self):
        self.received: list[dict] = []
        self.rcpt_replies: dict[str, str] = {}  # address -> SMTP reply instead of 250
        self.data_replies: dict[str, str] = {}  # address -> SMTP reply to DATA instead of 250
        self.hang_up_on: set[str] = set()  # addresses whose DATA makes the server drop the connection

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        (rcpt,) = envelope.rcpt_tos
        if rcpt in self.hang_up_on:
            self.hang_up_on.discard(rcpt)
            server.transport.close()
            return "421 closing"
        if rcpt in self.data_replies:
            return self.data_replies[rcpt]
        self.received.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "message": email.message_from_bytes(envelope.original_content,
                                                                  policy=email.policy.default),
                              "peer": session.peer})
        return "250 2.0.0 Ok: queued"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = aiosmtpd_controller.Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def make_backend(mailbox):
    def make(**overrides):
        options = {"host": "127.0.0.1", "port": mailbox.port, "username": "", "password": "", "use_tls": False,
                   "use_ssl": False, "timeout": 2, "from_email": "绿城物业 <wuye@example.com>"}
        options.update(overrides)
        return SMTPBackend(**options)

    return make


def message(**kw) -> Message:
    fields = {"channel": "email", "to": "owner@example.com", "subject": "物业费催缴通知（3幢1502室）",
              "body": "尊敬的业主：您的物业费已欠缴 ¥1,280.00，请于 2026年5月15日 前缴纳。", "out_id": "act-42-1"}
    fields.update(kw)
    return Message(**fields)


def test_it_delivers_chinese_subject_and_body_with_our_message_id(mailbox, make_backend):
    result = make_backend().send(message())

    assert result.outcome == Outcome.SENT
    assert result.provider_message_id == "<act-42-1@wuye>"
    (mail,) = mailbox.received
    assert mail["from"] == "wuye@example.com" and mail["to"] == ["owner@example.com"]
    parsed = mail["message"]
    assert parsed["Message-ID"] == "<act-42-1@wuye>"
    assert str(parsed["Subject"]) == "物业费催缴通知（3幢1502室）"
    assert parsed["From"].addresses[0].display_name == "绿城物业"
    assert parsed.get_content_charset() == "utf-8"
    assert parsed.get_content().strip() == "尊敬的业主：您的物业费已欠缴 ¥1,280.00，请于 2026年5月15日 前缴纳。"


def test_it_flags_a_refused_recipient_as_wrong(mailbox, make_backend):
    mailbox.rcpt_replies["gone@example.com"] = "550 5.1.1 <gone@example.com>: Recipient address rejected"
    result = make_backend().send(message(to="gone@example.com"))
    assert (result.outcome, result.dead_address) == (Outcome.PERMANENT, "wrong")
    assert "550" in result.detail
    assert mailbox.received == []


def test_it_retries_later_when_the_mailbox_is_busy(mailbox, make_backend):
    mailbox.rcpt_replies["full@example.com"] = "452 4.2.2 Mailbox full"
    result = make_backend().send(message(to="full@example.com"))
    assert (result.outcome, result.dead_address) == (Outcome.TRANSIENT, "")


def test_it_maps_a_refused_message_by_its_reply_code(mailbox, make_backend):
    mailbox.data_replies["later@example.com"] = "451 4.3.0 Try again later"
    mailbox.data_replies["spam@example.com"] = "554 5.7.1 Message rejected as spam"
    later, spam = make_backend().send_many([message(to="later@example.com"), message(to="spam@example.com")])
    assert (later.outcome, later.dead_address) == (Outcome.TRANSIENT, "")
    assert (spam.outcome, spam.dead_address) == (Outcome.PERMANENT, "")


def test_it_sends_a_batch_over_one_connection_past_a_refused_recipient(mailbox, make_backend):
    mailbox.rcpt_replies["gone@example.com"] = "550 5.1.1 User unknown"
    batch = [message(to="a@example.com", out_id="a"), message(to="gone@example.com", out_id="b"),
             message(to="c@example.com", out_id="c")]

    results = make_backend().send_many(batch)

    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.PERMANENT, Outcome.SENT]
    assert [m["message"]["Message-ID"] for m in mailbox.received] == ["<a@wuye>", "<c@wuye>"]
    assert len({m["peer"] for m in mailbox.received}) == 1  # one SMTP session


def test_it_reconnects_after_the_server_hangs_up(mailbox, make_backend):
    mailbox.hang_up_on.add("b@example.com")
    batch = [message(to=f"{x}@example.com", out_id=x) for x in "abc"]

    results = make_backend().send_many(batch)

    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.TRANSIENT, Outcome.SENT]
    assert [m["message"]["Message-ID"] for m in mailbox.received] == ["<a@wuye>", "<c@wuye>"]
    assert len({m["peer"] for m in mailbox.received}) == 2


def test_it_retries_later_when_the_server_is_down(make_backend):
    results = make_backend(port=free_port()).send_many([message(out_id="a"), message(out_id="b")])
    assert [r.outcome for r in results] == [Outcome.TRANSIENT, Outcome.TRANSIENT]
    assert "无法连接邮件服务器" in results[1].detail


def test_it_sends_nothing_to_an_empty_or_malformed_address(mailbox, make_backend):
    empty, malformed = make_backend().send_many([message(to=""), message(to="not-an-address")])
    assert (empty.outcome, empty.dead_address) == (Outcome.PERMANENT, "empty")
    assert (malformed.outcome, malformed.dead_address) == (Outcome.PERMANENT, "wrong")
    assert mailbox.received == []


def test_it_falls_back_to_django_email_settings(mailbox, settings):
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", mailbox.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "noreply@wuye.example.com"

    result = SMTPBackend().send(message())

    assert result.outcome == Outcome.SENT
    assert mailbox.received[0]["from"] == "noreply@wuye.example.com"
