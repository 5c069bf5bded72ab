"""Staff pages: statement import and history, the review queue, bank accounts and their mappings, direct
debit (mandates, batches, result files). Thin: they check the role, read through selectors and call services."""

from __future__ import annotations

import datetime as dt
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from wuye.accounts.selectors import project_scope_q
from wuye.banking import exports, selectors, services
from wuye.banking.models import StatementLine
from wuye.banking.parsing import (
    DATE_FORMATS,
    FIELD_LABELS,
    LAYOUT_CHOICES,
    LAYOUTS,
    date_format_options,
    guess_header_row,
    parse_date,
    preset_mapping,
    sample_columns,
)
from wuye.banking.permissions import can_bank
from wuye.common.formatting import format_yuan, yuan_to_fen
from wuye.common.params import id_or_none, id_param
from wuye.common.tabular import read_table, read_upload
from wuye.common.views import redirect_next
from wuye.estate.importer import ImportRejected, error_report_xlsx
from wuye.estate.models import Project, Unit

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _require(request) -> None:
    if not can_bank(request.user):
        raise PermissionDenied(_("您的角色无权处理银行对账与代扣。"))


def _projects(request):
    return Project.objects.filter(project_scope_q(request.user)).order_by("code")


def _error_text(exc: ValidationError) -> str:
    return "；".join(exc.messages)


def _attachment(content: bytes, filename: str, content_type: str) -> HttpResponse:
    from urllib.parse import quote

    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


# --- statements ---------------------------------------------------------------------------------------------

@login_required
def statements(request):
    _require(request)
    accounts = selectors.accounts_visible(request.user).filter(active=True)
    if request.method == "POST":
        account_id = request.POST.get("account", "")
        account = accounts.filter(pk=pk).first() if (pk := id_or_none(account_id)) is not None else None
        upload = request.FILES.get("file")
        if account is None:
            messages.error(request, _("请选择收款账户（须为您可管理的项目中已启用的账户）。"))
            return redirect("banking:statements")
        if upload is None:
            messages.error(request, _("请选择对账单文件（.csv 或 .xlsx）。"))
            return redirect("banking:statements")
        try:
            statement = services.statement_submit(actor=request.user, account=account, filename=upload.name,
                                                  raw=read_upload(upload), apply=request.POST.get("mode") != "preview")
        except ImportRejected as exc:
            messages.error(request, str(exc))
            return redirect("banking:statements")
        return redirect("banking:statement-detail", pk=statement.pk)
    history = selectors.imports_visible(request.user)[:50]
    return render(request, "banking/statements.html", {"accounts": accounts, "history": history})


@login_required
def statement_detail(request, pk: int):
    _require(request)
    statement = get_object_or_404(selectors.imports_visible(request.user), pk=pk)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "apply":
                statement = services.statement_apply(actor=request.user, statement=statement)
                messages.success(request, _("已提交入账，正在后台处理。"))
            elif request.POST.get("action") == "discard":
                services.statement_discard(actor=request.user, statement=statement)
                messages.info(request, _("已放弃该对账单。"))
            elif request.POST.get("action") == "retry":
                services.statement_retry(actor=request.user, statement=statement)
                messages.success(request, _("已重新排队处理；已导入的流水不会重复入账。"))
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        return redirect("banking:statement-detail", pk=pk)
    statement = _recover_if_stale(statement)
    lines = statement.lines.select_related("unit").order_by("row_no")[:200] if statement.finished else []
    return render(request, "banking/statement_detail.html", {"statement": statement, "lines": lines})


def _recover_if_stale(statement):
    """An import whose worker died is queued again (or failed) when its page is looked at, not only by the
    periodic job."""
    if services.statement_stale(statement):
        services.statements_recover_stale(statement_id=statement.pk)
        statement.refresh_from_db()
    return statement


@login_required
def statement_progress(request, pk: int):
    """The state box of an import, polled by the page every second while the job works; once the job has
    finished, the page reloads itself (HX-Refresh) to show the lines."""
    _require(request)
    statement = _recover_if_stale(get_object_or_404(selectors.imports_visible(request.user), pk=pk))
    response = render(request, "banking/_statement_state.html", {"statement": statement})
    if statement.finished and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


@login_required
def statement_errors(request, pk: int):
    _require(request)
    statement = get_object_or_404(selectors.imports_visible(request.user), pk=pk)
    if not statement.errors:
        raise Http404(_("该对账单没有错误报告。"))
    return _attachment(error_report_xlsx(statement).getvalue(), f"对账单错误报告-{statement.pk}.xlsx", XLSX)


# --- review queue ---------------------------------------------------------------------------------------------

@login_required
def review(request):
    _require(request)
    accounts = selectors.accounts_visible(request.user)
    account_id = id_param(request.GET, "account")
    lines = selectors.review_queue(request.user, account_id=account_id)[:200]
    q = request.GET.get("q", "")
    project_ids = {a.project_id for a in accounts}
    found = selectors.units_search(project_ids, q) if q else []
    return render(request, "banking/review.html", {"accounts": accounts, "account_id": account_id, "lines": lines,
                                                   "q": q, "found": found})


def _line_or_404(request, pk: int):
    lines = StatementLine.objects.filter(bank_account__in=selectors.accounts_visible(request.user))
    return get_object_or_404(lines.select_related("bank_account"), pk=pk)


@login_required
@require_POST
def line_confirm(request, pk: int):
    _require(request)
    line = _line_or_404(request, pk)
    unit_id, code = request.POST.get("unit_id", ""), request.POST.get("unit_code", "").strip()
    project, unit_pk = line.bank_account.project_id, id_or_none(unit_id)
    unit = (Unit.objects.filter(project_id=project, pk=unit_pk).first() if unit_pk
            else Unit.objects.filter(project_id=project, code=code).first() if code else None)
    if unit is None:
        messages.error(request, _("第 %(row)s 行：请选择候选房屋或输入本项目的房屋编码。") % {"row": line.row_no})
        return redirect_next(request, "banking:review")
    try:
        services.line_confirm(actor=request.user, line=line, unit=unit, note=request.POST.get("note", ""))
        messages.success(request, _("已确认：%(amount)s 入账到 %(unit)s。") % {
            "amount": format_yuan(line.amount_fen), "unit": unit.code})
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    return redirect_next(request, "banking:review")


@login_required
@require_POST
def line_dismiss(request, pk: int):
    _require(request)
    line = _line_or_404(request, pk)
    try:
        services.line_dismiss(actor=request.user, line=line, reason=request.POST.get("reason", ""))
        messages.info(request, _("已标记为非物业费收入。"))
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    return redirect_next(request, "banking:review")


# --- bank accounts ------------------------------------------------------------------------------------------

MAPPING_KEYS = ["date", "date_format", "amount", "credit", "debit", "payer_name", "payer_account", "serial",
                "balance"]


def _mapping_from_post(post) -> dict:
    mapping = {key: post.get(f"m_{key}", "").strip() for key in MAPPING_KEYS}
    mapping["memo"] = [m.strip() for m in post.get("m_memo", "").replace("，", ",").split(",") if m.strip()]
    mapping["encoding"] = post.get("m_encoding", "auto").strip() or "auto"
    header_row = post.get("m_header_row", "").strip()
    mapping["header_row"] = int(header_row) if header_row.isascii() and header_row.isdigit() and len(header_row) < 10 else 0
    return mapping


@login_required
def accounts(request):
    _require(request)
    projects = _projects(request)
    if request.method == "POST":
        project = get_object_or_404(projects, pk=id_param(request.POST, "project", 0))
        try:
            account = services.bank_account_save(
                actor=request.user, project=project, name=request.POST.get("name", ""),
                bank=request.POST.get("bank", ""), account_no=request.POST.get("account_no", ""),
                layout=request.POST.get("layout", ""))
            messages.success(request, _("已添加收款账户，可在下方调整列映射。"))
            return redirect("banking:account-edit", pk=account.pk)
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
    return render(request, "banking/accounts.html", {
        "accounts": selectors.accounts_visible(request.user), "projects": projects,
        "layouts": LAYOUT_CHOICES})


def _looks_like_date(text: str) -> bool:
    try:
        parse_date(text, "auto")
    except ValueError:
        return False
    return True


def _sample_cards(top: list[list], header_row: int) -> list[dict]:
    """The sample's first rows for a phone, one card per row: a row below the header names each value by its
    column's header (收入金额：537.00), the rows above it (a title, a date range) and the header itself list their
    cells as they are; empty cells are left out. The wide table scrolled inside its own box at 375 px."""
    header = [str(c).strip() for c in top[header_row - 1]] if 0 < header_row <= len(top) else []
    cards = []
    for n, row in enumerate(top, start=1):
        cells = [(header[i] if n > header_row and i < len(header) and header[i] else
                  (f"第 {i + 1} 列" if n > header_row else ""), str(v).strip())
                 for i, v in enumerate(row) if str(v).strip()]
        cards.append({"n": n, "header": n == header_row, "cells": cells})
    return cards


@login_required
def account_edit(request, pk: int):
    _require(request)
    account = get_object_or_404(selectors.accounts_visible(request.user), pk=pk)
    sample = None
    if request.method == "POST" and request.POST.get("preview"):
        # choose columns from a sample of the bank's file: nothing is saved or imported
        mapping = _mapping_from_post(request.POST)
        upload = request.FILES.get("sample")
        try:
            if upload is None:
                raise ImportRejected("请选择一份该银行导出的对账单作为样例。")
            table = read_table(upload.name, read_upload(upload))
        except ImportRejected as exc:
            messages.error(request, _("样例文件无法读取：") + str(exc))
        else:
            header_row = mapping["header_row"] or guess_header_row(table)
            mapping["header_row"] = header_row
            columns = sample_columns(table, header_row)
            by_name = {c.name: c for c in columns}
            date_col = by_name.get(mapping.get("date", "")) or next(
                (c for c in columns if c.examples and all(_looks_like_date(v) for v in c.examples)), None)
            if date_col and not mapping.get("date"):
                mapping["date"] = date_col.name
            top = [r[:8] for r in table[:min(len(table), 8)]]
            sample = {"name": upload.name, "columns": columns, "top": top, "cards": _sample_cards(top, header_row),
                      "date_options": date_format_options(date_col.examples if date_col else [])}
        account.mapping = mapping  # shown, not saved
    elif request.method == "POST":
        layout = request.POST.get("layout", account.layout)
        mapping = preset_mapping(layout) if request.POST.get("reset") and layout in LAYOUTS \
            else _mapping_from_post(request.POST)
        try:
            services.bank_account_save(actor=request.user, project=account.project, account=account,
                                       name=request.POST.get("name", account.name),
                                       bank=request.POST.get("bank", account.bank),
                                       account_no=request.POST.get("account_no") or account.account_no,
                                       layout=layout, mapping=mapping, active=bool(request.POST.get("active")))
            messages.success(request, _("已保存。"))
            return redirect("banking:account-edit", pk=pk)
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
    fields = [(key, FIELD_LABELS.get(key, key), account.mapping.get(key, "")) for key in MAPPING_KEYS
              if key != "date_format"]
    current_fmt = account.mapping.get("date_format") or "auto"
    date_options = sample["date_options"] if sample else [(f, e, True) for f, e in DATE_FORMATS]
    if current_fmt not in {f for f, _, _ in date_options}:
        date_options = [(current_fmt, _("当前设置（自定义格式）"), True), *date_options]
    return render(request, "banking/account_edit.html", {
        "account": account, "layouts": LAYOUT_CHOICES, "fields": fields, "sample": sample,
        "date_options": date_options, "current_fmt": current_fmt,
        "memo": ", ".join(account.mapping.get("memo") or []), "mapping_json": json.dumps(account.mapping,
                                                                                         ensure_ascii=False)})


# --- direct debit -------------------------------------------------------------------------------------------

@login_required
def mandates(request):
    _require(request)
    if request.method == "POST":
        project = get_object_or_404(_projects(request), pk=id_param(request.POST, "project", 0))
        unit = Unit.objects.filter(project=project, code=request.POST.get("unit_code", "").strip()).first()
        if unit is None:
            messages.error(request, _("找不到该项目的房屋编码。"))
            return redirect("banking:mandates")
        try:
            limit = request.POST.get("limit", "").strip()
            services.mandate_create(
                actor=request.user, unit=unit, payer_name=request.POST.get("payer_name", ""),
                bank=request.POST.get("bank", ""), account_no=request.POST.get("account_no", ""),
                signed_on=dt.date.fromisoformat(request.POST.get("signed_on") or dt.date.today().isoformat()),
                limit_fen=yuan_to_fen(limit) if limit else None)
            messages.success(request, _("已登记代扣协议。"))
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        except (ValueError, ArithmeticError):
            messages.error(request, _("签约日期或限额格式不正确。"))
        return redirect("banking:mandates")
    return render(request, "banking/mandates.html", {
        "mandates": selectors.mandates_visible(request.user)[:500], "projects": _projects(request)})


@login_required
@require_POST
def mandate_revoke(request, pk: int):
    _require(request)
    mandate = get_object_or_404(selectors.mandates_visible(request.user), pk=pk)
    try:
        services.mandate_revoke(actor=request.user, mandate=mandate, reason=request.POST.get("reason", ""))
        messages.info(request, _("已终止代扣协议。"))
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    return redirect("banking:mandates")


@login_required
def batches(request):
    _require(request)
    if request.method == "POST":
        project = get_object_or_404(_projects(request), pk=id_param(request.POST, "project", 0))
        try:
            as_of = dt.date.fromisoformat(request.POST.get("as_of", ""))
            batch = services.debit_batch_create(actor=request.user, project=project, as_of=as_of)
            return redirect("banking:batch-detail", pk=batch.pk)
        except ValueError:
            messages.error(request, _("请填写扣款日期。"))
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        return redirect("banking:batches")
    return render(request, "banking/batches.html", {"batches": selectors.batches_visible(request.user)[:100],
                                                    "projects": _projects(request)})


@login_required
def batch_detail(request, pk: int):
    _require(request)
    batch = get_object_or_404(selectors.batches_visible(request.user), pk=pk)
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, _("请选择银行回盘文件。"))
        else:
            try:
                counts = services.debit_result_import(actor=request.user, batch=batch, filename=upload.name,
                                                      raw=read_upload(upload))
                messages.success(request, _("回盘已导入：成功 %(ok)s 笔，失败 %(bad)s 笔，此前已处理 %(old)s 笔。") % {
                    "ok": counts.get("succeeded", 0), "bad": counts.get("failed", 0), "old": counts.get("already", 0)})
            except ImportRejected as exc:
                messages.error(request, str(exc))
            except ValidationError as exc:
                messages.error(request, _("回盘文件有错误，未导入任何结果：") + _error_text(exc))
        return redirect("banking:batch-detail", pk=pk)
    lines = batch.lines.select_related("unit", "mandate", "payment").order_by("id")
    return render(request, "banking/batch_detail.html", {"batch": batch, "lines": lines})


@login_required
def batch_export(request, pk: int, fmt: str):
    _require(request)
    batch = get_object_or_404(selectors.batches_visible(request.user), pk=pk)
    if fmt == "xlsx":
        return _attachment(exports.debit_xlsx(batch), f"代扣文件-{batch.pk}.xlsx", XLSX)
    return _attachment(exports.debit_csv(batch), f"代扣文件-{batch.pk}.csv", "text/csv; charset=gb18030")
