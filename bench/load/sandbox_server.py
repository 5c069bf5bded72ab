"""Bench-only: the pay sandbox (``wuye.portal.sandbox``) as a process of its own, for the load test.

    .venv/bin/python bench/load/sandbox_server.py --port 8078 --keys var/load/sandbox-keys --env var/load/sandbox.env

Generates the keys, starts the stand-in WeChat Pay / Alipay server on 127.0.0.1:PORT, writes the settings
that point Wuye at it as ``export NAME=value`` lines (for gunicorn and the worker), and serves until killed.
Only the loopback: the sandbox binds 127.0.0.1 and Wuye's system check refuses anything else.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import threading
from pathlib import Path

from wuye.portal.sandbox import Sandbox, make_keys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8078)
    parser.add_argument("--keys", required=True)
    parser.add_argument("--env", required=True)
    args = parser.parse_args()
    sandbox = Sandbox(make_keys(Path(args.keys)), port=args.port).start()
    lines = [f"export {name}={shlex.quote(value)}" for name, value in sandbox.settings().items()]
    Path(args.env).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"sandbox at {sandbox.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    sandbox.close()


if __name__ == "__main__":
    main()
