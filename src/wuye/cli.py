"""The ``wuye`` console script: Django's manage.py with the settings preset.

Server processes (``runserver``, ``run_huey``) refuse to start with a missing or weak ``WUYE_SECRET_KEY``
outside debug and demo mode (check ``wuye.E001``); ``wuye demo`` runs in demo mode.
"""

from __future__ import annotations

import os
import sys

SERVER_COMMANDS = {"runserver", "run_huey"}


def main(argv: list[str] | None = None) -> None:
    args = list(argv if argv is not None else sys.argv[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuye.settings")
    if args[:1] == ["demo"]:
        os.environ["WUYE_DEMO"] = "1"  # the demo's own runserver and worker inherit it
    from django.core.management import execute_from_command_line

    if args[:1] and args[0] in SERVER_COMMANDS:
        import django

        django.setup()
        from wuye.common.checks import secret_key_errors

        errors = secret_key_errors()
        if errors:
            sys.stderr.write(f"{errors[0].id}: {errors[0].msg}\n  {errors[0].hint}\n")
            raise SystemExit(1)
    execute_from_command_line(["wuye", *args])


if __name__ == "__main__":
    main()
