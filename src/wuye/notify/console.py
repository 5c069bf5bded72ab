"""Prints each message (the demo's default when no gateway is configured)."""

from __future__ import annotations

import sys

from wuye.notify.base import Backend, Message, Outcome, Result


class ConsoleBackend(Backend):
    name = "console"

    def send(self, message: Message) -> Result:
        stream = self.options.get("stream") or sys.stdout
        prefix = f"【{message.sign_name}】" if message.sign_name and message.channel == "sms" else ""
        stream.write(f"[{message.channel} → {message.to}] {prefix}{message.body} ({message.out_id})\n")
        return Result(Outcome.SENT, provider_message_id=f"console-{message.out_id}")
