"""README's first promise, walked as a first-time user would: ``wuye demo`` (what ``make demo`` runs) sets up a
fresh data folder — SQLite, the worker in a child process, the demo estate and logins, the payment sandbox — and
serves; an owner on a phone logs in by SMS code (read from the sandbox's SMS inbox, as README says), opens the
bill, pays through the sandbox's WeChat Pay page and downloads the receipt; a collector lands on the worklist.

The demo runs as its own process on a temporary folder and a free port, with fewer months of history than the
default (``--months``) to bound its setup; every wait here has a limit, and the process group is ended at the
end whatever happened."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import artefacts_dir
from tests.e2e.test_page_walk import _check

pytestmark = [pytest.mark.browser, pytest.mark.once]  # the demo runs on its own SQLite: one pass only

SETUP_SECONDS = int(os.environ.get("WUYE_DEMO_WALK_SETUP_SECONDS", "900"))  # seeding on a loaded 2-core machine
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_env(data_dir: Path) -> dict[str, str]:
    """The environment a first-time user has: none of the test run's settings (its database, the xdist
    worker, the browser tests' async flag), the demo's data folder, loopback never through a proxy."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WUYE_") and k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL",
                                                      "PYTEST_XDIST_WORKER", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(WUYE_DATA_DIR=str(data_dir), NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               PYTHONUNBUFFERED="1")
    return env


class Demo:
    """``wuye demo`` as a child process; ``lines`` is what it printed so far."""

    def __init__(self, data_dir: Path, port: int):
        self.addr = f"127.0.0.1:{port}"
        self.url = f"http://{self.addr}"
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wuye", "demo", "--addr", self.addr, "--months", "6"],
            env=_child_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def printed(self, pattern: str) -> re.Match | None:
        for line in self.lines:
            if m := re.search(pattern, line):
                return m
        return None

    def wait_serving(self, seconds: int) -> None:
        deadline = time.monotonic() + seconds
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("wuye demo stopped:\n" + "\n".join(self.lines[-40:]))
            if self.printed(r"沙箱短信收件箱"):
                try:
                    with opener.open(self.url + "/login/", timeout=5) as r:
                        if r.status == 200:
                            return
                except OSError:
                    pass
            time.sleep(1)
        pytest.fail(f"wuye demo not serving after {seconds} s:\n" + "\n".join(self.lines[-40:]))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # the demo stops its worker and the sandbox
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything of this process group still running
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def demo():
    # a folder of its own, not under pytest's base folder (which other pytest sessions prune while this runs)
    with tempfile.TemporaryDirectory(prefix="wuye-demo-walk-") as data_dir:
        run = Demo(Path(data_dir), _free_port())
        try:
            run.wait_serving(SETUP_SECONDS)
            yield run
        finally:
            run.stop()


def _shots() -> Path:
    shots = artefacts_dir()
    return shots


def test_the_demo_prints_what_readme_promises(demo):
    print("\n".join(demo.lines))  # shown when this fails
    assert demo.printed(r"演示环境已就绪")
    for user in ("admin", "jingli", "shoufei1", "shoufei2", "kefu", "caiwu", "gongcheng", "fawu"):
        assert demo.printed(rf"^\s+{user}\s+wuye2026\s"), user
    assert demo.printed(r"业主缴费链接（演示，沙箱支付）：http://127\.0\.0\.1:\d+/p/\S+/")
    assert demo.printed(r"业主登录（演示）：.*/p/login/ ，手机号 1\d{10}")
    assert demo.printed(r"沙箱短信收件箱（业主登录验证码）：http://127\.0\.0\.1:\d+/sandbox/sms/")
    assert demo.printed(r"银行流水样例-.*\.csv")


def test_an_owner_logs_in_pays_in_the_sandbox_and_gets_the_receipt(browser, demo):
    phone = demo.printed(r"手机号 (1\d{10})").group(1)
    inbox = demo.printed(r"沙箱短信收件箱（业主登录验证码）：(\S+)").group(1)
    shots = _shots()
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True,
                                  has_touch=True, user_agent=IPHONE)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    failures: list[str] = []  # horizontal scroll or tap targets under 44 px on the owner's pages
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    try:
        page.goto(f"{demo.url}/p/login/")
        assert "本机沙箱" in page.get_by_test_id("sandbox-banner").inner_text()
        page.get_by_label("手机号码").fill(phone)
        page.get_by_test_id("send-code").click()
        page.get_by_test_id("login-code").wait_for()
        hint = page.get_by_test_id("sandbox-sms-link")
        assert hint.get_attribute("href") == inbox
        _check(page, 375, "login code", failures)
        page.screenshot(path=str(shots / "demo-login-code-375.png"), full_page=True)
        # the SMS inbox of the sandbox (the worker sends the code: it may take a moment)
        sms = context.new_page()
        code = ""
        for _ in range(60):
            sms.goto(inbox)
            found = [t for t in sms.get_by_test_id("sandbox-sms").all_inner_texts() if phone in t]
            if found:
                code = re.search(r"验证码为 (\d{6})", found[0]).group(1)
                break
            time.sleep(1)
        assert code, "no login code in the sandbox SMS inbox"
        sms.screenshot(path=str(shots / "demo-sms-inbox-375.png"), full_page=True)
        sms.close()
        page.get_by_label("验证码").fill(code)
        page.get_by_test_id("verify-code").click()
        page.wait_for_load_state("load")
        if page.get_by_test_id("login-units").count():  # more than one unit: open the first
            _check(page, 375, "login units", failures)
            page.locator("[data-testid^='unit-']").first.click()
        summary = page.get_by_test_id("summary")
        summary.wait_for()
        _check(page, 375, "bill", failures)
        page.screenshot(path=str(shots / "demo-bill-375.png"), full_page=True)
        page.get_by_role("button", name="微信支付").click()
        # a phone browser outside WeChat pays by H5: the sandbox stands in for the WeChat app
        page.get_by_test_id("pay-url").wait_for()
        _check(page, 375, "order", failures)
        page.get_by_test_id("pay-url").click()
        page.get_by_test_id("sandbox-confirm").wait_for()
        assert "仅供演示" in page.get_by_test_id("sandbox-banner").inner_text()
        page.get_by_test_id("sandbox-confirm").click()
        page.get_by_test_id("sandbox-paid").wait_for()
        page.get_by_test_id("sandbox-back").click()
        page.get_by_text("支付成功").wait_for(timeout=30_000)
        status = page.get_by_test_id("order-status")
        assert re.search(r"收据", status.inner_text())
        _check(page, 375, "paid", failures)
        page.screenshot(path=str(shots / "demo-paid-375.png"), full_page=True)
        href = status.get_by_role("link", name="下载收据").get_attribute("href")
        pdf = page.request.get(demo.url + href if href.startswith("/") else href)
        assert pdf.ok and pdf.body().startswith(b"%PDF")
    finally:
        context.close()
    assert errors == []
    assert failures == [], "\n".join(failures)


def test_a_collector_lands_on_the_worklist(browser, demo):
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{demo.url}/login/")
        page.get_by_label("用户名").fill("shoufei1")
        page.get_by_label("密码").fill("wuye2026")
        page.get_by_role("button", name="登录").click()
        page.locator("[data-testid^='row-']").first.wait_for()  # the demo gives the collector work
        assert "/casework/" in page.url and page.get_by_test_id("worklist-filter").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        page.screenshot(path=str(_shots() / "demo-collector-375.png"))  # the first screen
    finally:
        context.close()


def test_the_manager_lands_on_figures_not_an_empty_dashboard(browser, demo):
    """The manager's first page reads stored snapshots only (decision 95): the demo writes this month's
    provisional snapshot and closes its finished months, so the home page has figures at once."""
    assert demo.printed(r"经营分析：已月结最近 5 个月")
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{demo.url}/login/")
        page.get_by_label("用户名").fill("jingli")
        page.get_by_label("密码").fill("wuye2026")
        page.get_by_role("button", name="登录").click()
        page.get_by_test_id("kpis").wait_for()
        assert "/insights/" in page.url and page.get_by_test_id("no-snapshot").count() == 0
        assert "本月临时快照" in page.content()
        import datetime as dt
        from zoneinfo import ZoneInfo

        first = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().replace(day=1)  # the demo's time zone
        page.goto(f"{demo.url}/insights/?period={first - dt.timedelta(days=1):%Y-%m}")
        page.get_by_test_id("kpis").wait_for()  # last month: closed
        assert page.get_by_test_id("no-snapshot").count() == 0 and "尚未月结" not in page.content()
        if (first.month - 2) % 3:  # last month is no quarter's first: the residential estates billed nothing in it
            assert "按季" in page.get_by_test_id("chart-projects-no-bill").inner_text()  # said, not a silent gap
        page.wait_for_timeout(1500)  # the charts' opening animation
        page.screenshot(path=str(_shots() / "demo-manager-1280.png"))
    finally:
        context.close()
