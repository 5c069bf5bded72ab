"""Appends each message as one JSON line to ``<dir>/<channel>.jsonl`` (demo, tests, back-fills).

Idempotent by ``out_id``: the file is the provider's record, so ``was_sent`` can answer after a crash.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings

from wuye.notify.base import Backend, Message, Outcome, Result


class FileBackend(Backend):
    name = "file"

    def __init__(self, **options):
        super().__init__(**options)
        self.dir = Path(options.get("dir") or settings.WUYE_OUTBOX_DIR)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, object] = {}

    def _file(self, channel: str):
        f = self._files.get(channel)
        if f is None:
            f = self._files[channel] = open(self.dir / f"{channel}.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        return f

    def send(self, message: Message) -> Result:
        return self.send_many([message])[0]

    def send_many(self, messages: list[Message]) -> list[Result]:
        touched = set()
        for m in messages:
            f = self._file(m.channel)
            f.write(json.dumps({"out_id": m.out_id, "to": m.to, "subject": m.subject, "body": m.body,
                                "sign": m.sign_name}, ensure_ascii=False) + "\n")
            touched.add(m.channel)
        for channel in touched:
            f = self._files[channel]
            f.flush()
            os.fsync(f.fileno())
        return [Result(Outcome.SENT, provider_message_id=f"file-{m.out_id}") for m in messages]

    def was_sent(self, out_id: str) -> bool | None:
        needle = f'"out_id": "{out_id}"'
        for path in self.dir.glob("*.jsonl"):
            with open(path, encoding="utf-8") as f:
                if any(needle in line for line in f):
                    return True
        return False

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
