"""The channel interface, like Django's e-mail backends: one class per provider, chosen by settings.

A backend gets a ``Message`` and returns a ``Result``. It never raises for a provider's answer: a throttle
or a connection that could not be made is ``TRANSIENT`` (the dispatcher retries with backoff), a bad number
or a rejected template is ``PERMANENT``, and a request that went out but got no answer (timed out or cut
off while waiting) is ``UNCERTAIN``: the provider may have sent it, so it is not retried blind. ``out_id`` is our unique id of the message; backends pass it to the provider
where the API takes one (Aliyun ``OutId``, Tencent ``SessionContext``, e-mail ``Message-ID``) so a delivery
receipt and an audit can be matched to the action.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.module_loading import import_string


class Outcome(enum.StrEnum):
    SENT = "sent"  # accepted by the provider
    TRANSIENT = "transient"  # try again later
    PERMANENT = "permanent"  # will never work as it is (empty number, rejected template)
    UNCERTAIN = "uncertain"  # the request went out, no answer came back: it may have been sent


# A connection that was never made: the provider cannot have the request.
_NOT_CONNECTED = ("refused", "failed to establish", "connect timeout", "connecttimeout", "name or service",
                  "nodename", "getaddrinfo", "no route to host", "network is unreachable", "temporary failure")
# The request was (or may have been) written and the answer did not come.
_NO_ANSWER = ("timed out", "timeout", "reset by peer", "connection aborted", "remote end closed",
              "remotedisconnected", "broken pipe", "incompleteread", "connection broken")


def network_outcome(text: str) -> Outcome:
    """What a network error means for a send: ``TRANSIENT`` when no connection was made (safe to retry),
    ``UNCERTAIN`` when the request may have reached the provider and only the answer was lost."""
    t = text.lower()
    if any(k in t for k in _NOT_CONNECTED):
        return Outcome.TRANSIENT
    if any(k in t for k in _NO_ANSWER):
        return Outcome.UNCERTAIN
    return Outcome.TRANSIENT


@dataclass(frozen=True)
class Message:
    channel: str  # "sms" | "wechat" | "email"
    to: str  # phone number, openid or e-mail address
    body: str
    out_id: str
    subject: str = ""
    template_id: str = ""  # provider template id (SMS/WeChat)
    params: tuple[str, ...] = ()  # template parameters in order
    sign_name: str = ""  # registered SMS signature


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    provider_message_id: str = ""
    detail: str = ""
    # the address is known to be dead (empty/wrong/stopped number): the contact point gets flagged
    dead_address: str = ""  # "" or one of estate's ContactValidity values: "empty", "wrong", "suspended"
    extra: dict = field(default_factory=dict)


class Backend:
    """Base class of a channel backend."""

    name = "base"

    def __init__(self, **options):
        self.options = options

    def send(self, message: Message) -> Result:  # pragma: no cover - interface
        raise NotImplementedError

    def send_many(self, messages: list[Message]) -> list[Result]:
        """Send several; a backend with a batch API may override this."""
        return [self.send(m) for m in messages]

    def was_sent(self, out_id: str) -> bool | None:
        """Did a message with ``out_id`` go out? None when the provider cannot tell (then a message
        whose sending was interrupted is left for a person to check rather than sent twice)."""
        return None

    def close(self) -> None:
        pass


BACKENDS = {
    "console": "wuye.notify.console.ConsoleBackend",
    "file": "wuye.notify.file.FileBackend",
    "smtp": "wuye.notify.email.SMTPBackend",
    "tencent": "wuye.notify.sms_tencent.TencentSMSBackend",
    "aliyun": "wuye.notify.sms_aliyun.AliyunSMSBackend",
    "wechat": "wuye.notify.wechat.WeChatTemplateBackend",
}


def backend_for(channel: str) -> Backend:
    """The configured backend of ``channel`` (settings.WUYE_CHANNEL_BACKENDS, e.g. {"sms": "tencent"})."""
    name = settings.WUYE_CHANNEL_BACKENDS.get(channel, "file")
    options = settings.WUYE_CHANNEL_OPTIONS.get(name, {})
    return import_string(BACKENDS.get(name, name))(**options)
