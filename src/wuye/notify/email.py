"""E-mail over SMTP with Django's own ``EmailMessage`` and SMTP connection.

Options (``settings.WUYE_CHANNEL_OPTIONS["smtp"]``), each falling back to Django's ``EMAIL_*`` setting:
``host``, ``port``, ``username``, ``password``, ``use_tls``, ``use_ssl``, ``timeout`` (EMAIL_TIMEOUT, else
30 s), ``from_email`` (DEFAULT_FROM_EMAIL); and ``reply_to``, ``message_id_domain`` ("wuye").

The ``Message-ID`` is ``<out_id@wuye>``, so a bounce or a reply names the action it belongs to. ``send_many``
sends over one connection; after a lost connection it reconnects for the next message, and once connecting
fails the rest of the batch is left for a retry without trying (and timing out on) each message.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from wuye.notify.base import Backend, Message, Outcome, Result


def _transient_code(code) -> bool:
    return isinstance(code, int) and 400 <= code < 500


class SMTPBackend(Backend):
    name = "smtp"

    def __init__(self, **options):
        super().__init__(**options)
        timeout = options.get("timeout")
        if timeout is None:
            timeout = getattr(settings, "EMAIL_TIMEOUT", None) or 30
        self._connection_options = {
            "host": options.get("host"),
            "port": options.get("port"),
            "username": options.get("username"),
            "password": options.get("password"),
            "use_tls": options.get("use_tls"),
            "use_ssl": options.get("use_ssl"),
            "timeout": timeout,
        }
        self.from_email = options.get("from_email") or settings.DEFAULT_FROM_EMAIL
        self.domain = options.get("message_id_domain") or "wuye"

    def _connection(self):
        return get_connection("django.core.mail.backends.smtp.EmailBackend", fail_silently=False,
                              **self._connection_options)

    def _email(self, message: Message, connection) -> EmailMessage:
        reply_to = self.options.get("reply_to")
        return EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=self.from_email,
            to=[message.to.strip()],
            reply_to=[reply_to] if reply_to else None,
            headers={"Message-ID": f"<{message.out_id}@{self.domain}>"},
            connection=connection,
        )

    def send(self, message: Message) -> Result:
        return self.send_many([message])[0]

    def send_many(self, messages: list[Message]) -> list[Result]:
        results: list[Result | None] = [None] * len(messages)
        pending = []
        for i, m in enumerate(messages):
            if not m.to.strip():
                results[i] = Result(Outcome.PERMANENT, detail="没有电子邮箱地址", dead_address="empty")
            elif "@" not in m.to:
                results[i] = Result(Outcome.PERMANENT, detail=f"电子邮箱地址格式错误：{m.to}", dead_address="wrong")
            else:
                pending.append(i)
        if not pending:
            return results

        connection = self._connection()
        try:
            down = ""  # why the server cannot be reached: the rest of the batch waits for a retry
            for i in pending:
                if down:
                    results[i] = Result(Outcome.TRANSIENT, detail=down)
                    continue
                try:
                    connection.open()
                except (OSError, smtplib.SMTPException) as e:
                    down = f"无法连接邮件服务器：{e}"
                    results[i] = Result(Outcome.TRANSIENT, detail=down)
                    continue
                results[i] = self._send_one(messages[i], connection)
                if results[i].extra.get("connection_lost"):
                    self._drop(connection)
        finally:
            self._drop(connection)
        return results

    def _send_one(self, message: Message, connection) -> Result:
        message_id = f"<{message.out_id}@{self.domain}>"
        try:
            self._email(message, connection).send()
        except smtplib.SMTPRecipientsRefused as e:
            code, text = next(iter(e.recipients.values()), (None, b""))
            text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
            if _transient_code(code):  # 450/451/452: mailbox busy, try later
                return Result(Outcome.TRANSIENT, detail=f"收件人暂不可用 {code} {text}")
            return Result(Outcome.PERMANENT, detail=f"收件人被拒绝 {code} {text}", dead_address="wrong",
                          extra={"smtp_code": code})
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as e:
            return Result(Outcome.TRANSIENT, detail=f"邮件服务器断开：{e}", extra={"connection_lost": True})
        except smtplib.SMTPResponseException as e:  # sender refused, data refused, auth …
            text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
            outcome = Outcome.TRANSIENT if _transient_code(e.smtp_code) else Outcome.PERMANENT
            return Result(outcome, detail=f"邮件服务器拒绝 {e.smtp_code} {text}", extra={"smtp_code": e.smtp_code})
        except smtplib.SMTPException as e:
            return Result(Outcome.PERMANENT, detail=f"邮件发送失败：{e}")
        except OSError as e:  # reset, timeout
            return Result(Outcome.TRANSIENT, detail=f"网络错误：{e}", extra={"connection_lost": True})
        except ValueError as e:  # Django refuses an address it cannot encode
            return Result(Outcome.PERMANENT, detail=f"电子邮箱地址无效：{e}", dead_address="wrong")
        return Result(Outcome.SENT, provider_message_id=message_id)

    @staticmethod
    def _drop(connection) -> None:
        try:
            connection.close()
        except (OSError, smtplib.SMTPException):
            connection.connection = None
