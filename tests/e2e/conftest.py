"""Browser tests: Playwright (Python) driving Debian's Chromium — never a downloaded browser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

CHROMIUM = os.environ.get("WUYE_CHROMIUM", "/usr/bin/chromium")
# Where every browser test leaves its screenshots for reviewers: $WUYE_SCREENSHOTS, else var/e2e-artefacts/ at
# the top of the checkout (ignored by git), whichever folder pytest was started from.
ARTEFACTS = Path(__file__).resolve().parents[2] / "var" / "e2e-artefacts"


def artefacts_dir() -> Path:
    path = Path(os.environ.get("WUYE_SCREENSHOTS") or ARTEFACTS)
    path.mkdir(parents=True, exist_ok=True)
    return path
# Playwright's sync API runs an event loop in the test thread; Django's ORM calls made by the test itself
# (fixtures) are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"Chromium not found at {CHROMIUM}: browser tests skipped", "WUYE_REQUIRE_BROWSER")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # the browser's own widgets (file buttons, date fields) in Chinese, as on the phones the pages are for,
            # where Debian's chromium-l10n is installed; English without it
            env={**os.environ, "LANGUAGE": "zh_CN"},
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def shots() -> Path:
    """The artefacts folder (see artefacts_dir)."""
    return artefacts_dir()
