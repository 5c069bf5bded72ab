"""docs/architecture.md lists every periodic job (issue 13, "Shape"): a job added without its row fails here."""

import importlib
import re
from pathlib import Path

from django.apps import apps

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def test_every_periodic_job_is_in_the_architecture_table():
    for cfg in apps.get_app_configs():
        if cfg.name.startswith("wuye."):
            try:
                importlib.import_module(f"{cfg.name}.tasks")
            except ModuleNotFoundError as e:
                if e.name != f"{cfg.name}.tasks":
                    raise
    importlib.import_module("wuye.tasks")
    from huey.contrib.djhuey import HUEY

    rows = set(re.findall(r"^\s*\| `([a-z_.]+)` \|", DOC.read_text(encoding="utf-8"), flags=re.M))
    jobs = {(t.__name__ if t.__module__ == "wuye.tasks" else f"{t.__module__.removeprefix('wuye.')}.{t.__name__}")
            for t in HUEY._registry._periodic_tasks}
    assert jobs and jobs <= rows, f"periodic jobs missing from docs/architecture.md: {sorted(jobs - rows)}"
