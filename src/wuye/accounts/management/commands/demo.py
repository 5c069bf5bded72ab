"""``wuye demo``: migrate, seed the demo estate, create demo logins, start the worker and the web server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand

from wuye.accounts.demo import demo_users_ensure


def demo_month_closes(months: int, *, most: int = 12) -> int:
    """Close the finished months of the demo's history (at most ``most``, oldest first), as the month-end job
    would have: the manager's pages and reports read closed months' snapshots. Returns how many."""
    from django.utils import timezone

    from wuye.insights.metrics import add_months, month_start
    from wuye.insights.services import month_close

    this_month = month_start(timezone.localdate())
    count = min(months, most)
    for k in range(count, 0, -1):
        month_close(period=add_months(this_month, -k), actor_label="demo")
    return count


class Command(BaseCommand):
    help = "准备并启动演示环境（SQLite、进程内任务队列、演示小区与演示账号）。"

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="监听地址，默认 127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="只准备数据，不启动服务")
        parser.add_argument("--months", type=int, default=24, choices=range(1, 61), metavar="1-60",
                            help="首次生成的出账与收款历史月数，默认 24（测试用较少的月数以缩短准备时间）")

    def handle(self, *args, addr: str, no_serve: bool, months: int = 24, **options):
        call_command("migrate", interactive=False, verbosity=0)
        from wuye.estate.models import Project

        fresh = not Project.objects.filter(code="DEMO-CH").exists()
        if fresh:
            self.stdout.write("正在生成演示小区（约 1,500 套房屋）……")
            call_command("seed", demo=True, stdout=self.stdout)
        logins = demo_users_ensure()
        if fresh:
            self.stdout.write(f"正在生成 {months} 个月的出账与收款历史……")
            call_command("seed_billing", months=months, seed=2026, project=["DEMO-CH", "DEMO-JX", "DEMO-JR"],
                         collector="shoufei1", manager="jingli", stdout=self.stdout)
            self.stdout.write("正在回放最近两周的每日催缴与发送……")
            replay_collection(days=14)
            from wuye.casework.demo import demo_casework

            demo_casework()
            from wuye.legal.demo import demo_legal

            number = demo_legal()
            if number:
                self.stdout.write(f"演示法务案件 {number} 已立案并生成证据包。")
            closed = demo_month_closes(months - 1)
            if closed:
                self.stdout.write(f"经营分析：已月结最近 {closed} 个月。")
        # the manager's first page reads snapshots only: this month's, as of now (the worker's hourly job keeps it)
        from wuye.insights.services import live_refresh

        live_refresh()
        from django.conf import settings

        from wuye.banking.demo import demo_banking

        account, sample = demo_banking(directory=settings.DATA_DIR / "demo")
        self.stdout.write(self.style.SUCCESS("\n演示环境已就绪。"))
        self.stdout.write(f"银行对账：收款账户“{account.name}”，样例流水 {sample}（财务 caiwu 在“银行对账与代扣”上传）")
        owner_url, owner_phone = demo_owner_link(addr)
        if owner_url:
            self.stdout.write(f"业主缴费链接（演示，沙箱支付）：{owner_url}")
        if owner_phone:
            self.stdout.write(f"业主登录（演示）：http://{addr}/p/login/ ，手机号 {owner_phone}（验证码见下方沙箱短信收件箱）")
        self.stdout.write(f"地址：http://{addr}/")
        self.stdout.write("演示账号（用户名 / 密码 / 角色）：")
        for username, password, role in logins:
            self.stdout.write(f"  {username:<10} {password:<10} {role}")
        if no_serve:
            return
        sandbox = start_pay_sandbox(addr)
        self.stdout.write(f"沙箱支付（微信支付、支付宝的本机模拟）：{sandbox.url}；业主链接付款后会收到签名通知并出收据。")
        if sandbox.outbox is not None:
            self.stdout.write(f"沙箱短信收件箱（业主登录验证码）：{sandbox.url}/sandbox/sms/")
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="wuye.settings")
        worker = subprocess.Popen([sys.executable, "-m", "wuye", "run_huey", "--workers", "2"], env=env)
        self.stdout.write(f"任务队列已启动（进程 {worker.pid}）。按 Ctrl+C 停止。")
        try:
            call_command("runserver", addr, use_reloader=False)
        finally:
            worker.send_signal(signal.SIGINT)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
            sandbox.close()


def start_pay_sandbox(addr: str, *, port: int = 0):
    """Start the local WeChat Pay / Alipay stand-ins (keys generated under the data dir) and point this process's
    settings and the worker's environment at them; the portal then shows the sandbox banner."""
    from django.conf import settings

    from wuye.portal.sandbox import Sandbox, make_keys

    outbox = settings.WUYE_OUTBOX_DIR if settings.WUYE_CHANNEL_BACKENDS.get("sms") == "file" else None
    sandbox = Sandbox(make_keys(settings.DATA_DIR / "sandbox-keys"), port=port, outbox=outbox).start()
    values = {**sandbox.settings(), "WUYE_PAY_NOTIFY_BASE": f"http://{addr}"}
    for name, value in values.items():
        setattr(settings, name, True if name == "WUYE_PAY_SANDBOX" else value)
    os.environ.update(values)  # the worker process (order queries) reads the same
    return sandbox


def replay_collection(*, days: int) -> None:
    """Run the daily collection decision and a 10:00 dispatch for each of the last ``days`` days, so the
    demo's outbox, tasks and ladders have history (messages go to the file backend under var/outbox)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from wuye.dunning.dispatch import dispatch
    from wuye.dunning.engine import dunning_run

    today = timezone.localdate()
    for n in range(days, -1, -1):
        day = today - dt.timedelta(days=n)
        dunning_run(as_of=day, actor_label="job:demo")
        if n:
            dispatch(now=dt.datetime.combine(day, dt.time(10, 0), tzinfo=ZoneInfo("Asia/Shanghai")))



def demo_owner_link(addr: str, *, project_codes: tuple[str, ...] = ("DEMO-CH", "DEMO-JX", "DEMO-JR")
                    ) -> tuple[str, str]:
    """A fresh pay link for an owner of the demo who owes money (open it, pay in the sandbox, see the receipt),
    and the mobile number that owner logs in with at /p/login/ ("" when none can log in). The first project
    with a debtor: 翠湖花园 bills half-yearly, so a short history (``--months``) may have none there yet."""
    from django.utils import timezone

    from wuye.billing.selectors import account_summaries
    from wuye.estate.models import Project, Unit
    from wuye.portal import login
    from wuye.portal.links import link_create

    today = timezone.localdate()
    owing = []
    for project in sorted(Project.objects.filter(code__in=project_codes), key=lambda p: project_codes.index(p.code)):
        owing = [s for s in account_summaries(as_of=today, project_id=project.pk) if s.overdue_fen > 0]
        if owing:
            break
    if not owing:
        return "", ""
    phone = ""
    for summary in owing[:200]:  # the first debtor whose number logs in to exactly this unit's owner
        phone = _owner_phone(Unit.objects.get(pk=summary.unit_id), login)
        if phone:
            break
    else:
        summary = owing[0]
    _row, token = link_create(unit=Unit.objects.get(pk=summary.unit_id), actor_label="job:demo")
    return f"http://{addr}/p/{token}/", phone


def _owner_phone(unit, login) -> str:
    """The live mobile number of the unit's current owner, when the portal's login finds that owner by it."""
    from django.utils import timezone

    from wuye.estate.choices import DEAD_VALIDITIES, ContactKind
    from wuye.estate.selectors import liable_party

    owner = liable_party(unit, timezone.localdate())
    if owner is None:
        return ""
    for value in (owner.contacts.filter(kind=ContactKind.MOBILE).exclude(validity__in=list(DEAD_VALIDITIES))
                  .order_by("-is_primary", "pk").values_list("value", flat=True)):
        phone = login.normalize_phone(value)
        if phone and unit in login.units_of_parties(login.parties_of_phone(phone)):
            return phone
    return ""
