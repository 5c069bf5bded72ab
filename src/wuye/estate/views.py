"""Staff pages for the estate. Thin: parse, call selectors/services, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from wuye.accounts import permissions
from wuye.accounts.models import AuditEvent
from wuye.accounts.selectors import unit_scope_q
from wuye.accounts.services import audit_record, pii_reveal
from wuye.common.forms import form_errors_text, validation_errors_text
from wuye.common.http import client_ip
from wuye.common.once import once_per_submit
from wuye.common.params import id_param
from wuye.common.views import redirect_next
from wuye.estate import exports, forms, importer, services
from wuye.estate import selectors as estate_selectors
from wuye.estate.choices import OccupantRole, PartyKind
from wuye.estate.filtersets import UnitFilterSet
from wuye.estate.models import Occupancy, Party, Unit
from wuye.estate.selectors import (
    NAME_MATCHES_MAX,
    UNIT_ORDER,
    buildings_visible,
    contacts_visible,
    import_jobs_visible,
    parties_visible,
    party_search_q,
    projects_visible,
    unit_visible_or_404,
    units_visible,
)
from wuye.estate.serializers import masked_contact_value

PAGE_SIZE = 50


@login_required
def project_list(request):
    projects = projects_visible(request.user).annotate(
        building_count=Count("buildings", distinct=True)
    ).select_related("developer")
    unit_counts = dict(
        units_visible(request.user).values_list("project_id").annotate(n=Count("id")).values_list("project_id", "n")
    )
    rows = [(p, unit_counts.get(p.pk, 0)) for p in projects]
    return render(request, "estate/project_list.html", {"rows": rows})


def _unit_filter(request):
    base = units_visible(request.user).order_by(*UNIT_ORDER)
    filterset = UnitFilterSet(request.GET or None, queryset=base, request=request)
    filterset.form.fields["project"].widget.attrs["class"] = "form-select form-select-sm"
    return filterset


@login_required
def unit_list(request):
    filterset = _unit_filter(request)
    if filterset.is_bound and not filterset.is_valid():
        messages.error(request, "筛选条件有误：" + "；".join(
            f"{filterset.form.fields[f].label}：{'，'.join(e)}" for f, e in filterset.form.errors.items()))
        qs = filterset.queryset.none()
    else:
        qs = filterset.qs
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "filterset": filterset,
        "page_obj": page,
        "name_capped": filterset.is_bound and filterset.is_valid() and filterset.name_capped(),
        "name_cap": estate_selectors.NAME_MATCHES_MAX,
        "projects": projects_visible(request.user).order_by("code"),
        "buildings": buildings_visible(request.user).filter(project_id=project_id).order_by("code")
        if (project_id := id_param(request.GET, "project")) else [],
    }
    return render(request, "estate/unit_list.html", context)


@login_required
def unit_export(request):
    """The filtered unit list as .xlsx — the same scoping as the page (a collector gets their territory)."""
    filterset = _unit_filter(request)
    if filterset.is_bound and not filterset.is_valid():
        return HttpResponse("筛选条件有误。", status=400)
    audit_record(actor=request.user, verb="unit.export", note=request.GET.urlencode()[:500])
    stream = exports.units_xlsx(filterset.qs)
    name = f"房屋清单-{timezone.localdate():%Y%m%d}.xlsx"
    return FileResponse(stream, as_attachment=True, filename=name,
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@login_required
def unit_detail(request, pk: int):
    unit = unit_visible_or_404(request.user, pk)
    occupancies = list(
        Occupancy.objects.filter(unit=unit).select_related("party", "recorded_by").order_by("role", "-start", "-id")
    )
    current_party_ids = {o.party_id for o in occupancies if o.end is None}
    contacts = list(contacts_visible(request.user).filter(party_id__in=current_party_ids).order_by(
        "party_id", "-is_primary", "kind", "id"))
    for contact in contacts:
        contact.shown = masked_contact_value(contact, request.user)
    history = AuditEvent.objects.filter(
        Q(object_type="estate.unit", object_id=str(unit.pk))
    ).select_related("actor").order_by("-created_at")[:50]
    context = {
        "unit": unit,
        "occupancies": occupancies,
        "contacts": contacts,
        "states": unit.state_changes.select_related("recorded_by").order_by("-since", "-id"),
        "history": history,
        "developer": unit.project.developer,
        "state_form": forms.UnitStateForm(),
        "occupancy_form": forms.OccupancyForm(),
        "contact_form": forms.ContactForm(parties=[o.party for o in occupancies if o.end is None]),
        "validity_choices": forms.ContactValidityForm().fields["validity"].choices,
    }
    return render(request, "estate/unit_detail.html", context)


@login_required
def party_list(request):
    """业户: the parties the user may see, by name or phone tail. A search keeps at most ``NAME_MATCHES_MAX``
    parties (a surname alone is 70,000 people at 1M units: the page counted and grouped them all, 1 s) and says
    so; the current-unit counts are read for the page's rows only."""
    qs = parties_visible(request.user)
    kind = request.GET.get("kind", "")
    if kind in PartyKind.values:
        qs = qs.filter(kind=kind)
    else:
        kind = ""
    text = request.GET.get("q", "").strip()[:50]
    capped = False
    if text:
        ids = list(qs.filter(party_search_q(text)).order_by().values_list("pk", flat=True)[:NAME_MATCHES_MAX + 1])
        capped = len(ids) > NAME_MATCHES_MAX
        qs = Party.objects.filter(pk__in=ids[:NAME_MATCHES_MAX])
    page = Paginator(qs.order_by("name", "id"), PAGE_SIZE).get_page(request.GET.get("page"))
    counts = dict(Occupancy.objects.filter(party_id__in=[p.pk for p in page], end__isnull=True).order_by()
                  .values("party_id").annotate(n=Count("pk")).values_list("party_id", "n"))
    for party in page:
        party.unit_count = counts.get(party.pk, 0)
    return render(request, "estate/party_list.html", {"page_obj": page, "q": text, "kind": kind, "capped": capped,
                                                      "cap": NAME_MATCHES_MAX})


@login_required
def party_detail(request, pk: int):
    party = get_object_or_404(parties_visible(request.user), pk=pk)
    scope = unit_scope_q(request.user, "unit__")
    occupancies = (
        Occupancy.objects.filter(scope, party=party).select_related("unit", "unit__project").order_by("-start")
    )
    contacts = list(party.contacts.all())
    for contact in contacts:
        contact.shown = masked_contact_value(contact, request.user)
    from wuye.common.formatting import mask_id_number

    id_shown = party.id_number if request.user.sees_pii else mask_id_number(party.id_number)
    return render(request, "estate/party_detail.html", {
        "party": party, "occupancies": occupancies, "contacts": contacts, "id_shown": id_shown,
    })


@login_required
@require_POST
def contact_reveal(request, pk: int):
    """htmx: swap a masked value for the clear one; the reveal is logged in the audit trail."""
    contact = contacts_visible(request.user).filter(pk=pk).first()
    if contact is None:
        raise Http404("联系方式不存在或不在您的责任区内。")
    try:
        value = pii_reveal(actor=request.user, obj=contact, field="value", ip=client_ip(request))
    except PermissionError as exc:
        return HttpResponseForbidden(str(exc))
    if contact.kind in ("mobile", "landline"):
        return HttpResponse(f'<a href="tel:{value}" data-testid="revealed">{value}</a>')
    from django.utils.html import escape

    return HttpResponse(f'<span data-testid="revealed">{escape(value)}</span>')


# --- imports -------------------------------------------------------------------------------------------

@login_required
def import_list(request):
    permissions.require(permissions.can_import, request.user)
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "请选择要导入的文件（.xlsx 或 .csv）。")
            return redirect("estate:import-list")
        try:
            job = importer.import_submit(actor=request.user, upload=upload)
        except importer.ImportRejected as exc:
            messages.error(request, str(exc))
            return redirect("estate:import-list")
        return redirect("estate:import-detail", pk=job.pk)
    jobs = import_jobs_visible(request.user).order_by("-created_at")[:50]
    return render(request, "estate/import_list.html", {"jobs": jobs, "columns": importer.COLUMNS})


@login_required
def import_template(request):
    stream = importer.template_xlsx()
    return FileResponse(stream, as_attachment=True, filename="房产业户导入模板.xlsx",
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _import_job(request, pk: int):
    """The job, after queueing it again (or failing it) when its worker died or its queue message was lost —
    when its page is looked at, not only by the periodic job."""
    permissions.require(permissions.can_import, request.user)
    job = get_object_or_404(import_jobs_visible(request.user), pk=pk)
    running = (job.Status.PENDING, job.Status.VALIDATING, job.Status.APPLYING)
    if job.status in running and any(importer.imports_recover_stale(job_id=job.pk).values()):
        job.refresh_from_db()
    return job


@login_required
def import_detail(request, pk: int):
    return render(request, "estate/import_detail.html", {"job": _import_job(request, pk)})


@login_required
def import_progress(request, pk: int):
    return render(request, "estate/_import_progress.html", {"job": _import_job(request, pk)})


@login_required
def import_error_report(request, pk: int):
    permissions.require(permissions.can_import, request.user)
    job = get_object_or_404(import_jobs_visible(request.user), pk=pk)
    if not job.errors:
        raise Http404("该导入没有错误报告。")
    stream = importer.error_report_xlsx(job)
    return FileResponse(stream, as_attachment=True, filename=f"导入错误报告-{job.pk}.xlsx",
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# --- edits from the unit page ---------------------------------------------------------------------------

def _unit_for_edit(request, pk: int, check) -> Unit:
    permissions.require(check, request.user)
    return unit_visible_or_404(request.user, pk)


@login_required
@require_POST
def unit_state(request, pk: int):
    unit = _unit_for_edit(request, pk, permissions.can_edit_estate)
    form = forms.UnitStateForm(request.POST)
    if form.is_valid():
        services.unit_set_state(actor=request.user, unit=unit, state=form.cleaned_data["state"],
                                since=form.cleaned_data["since"], note=form.cleaned_data["note"])
        messages.success(request, "入住状态已记录。")
    else:
        messages.error(request, "未保存：" + form_errors_text(form))
    return redirect("estate:unit-detail", pk=unit.pk)


@login_required
@require_POST
@once_per_submit
def unit_occupancy(request, pk: int):
    unit = _unit_for_edit(request, pk, permissions.can_edit_estate)
    form = forms.OccupancyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "未保存：" + form_errors_text(form))
        return redirect("estate:unit-detail", pk=unit.pk)
    data = form.cleaned_data
    try:
        with transaction.atomic():
            party, _ = services.party_get_or_create(
                actor=request.user, kind=data["kind"], name=data["name"], id_number=data["id_number"],
                mobile=data["mobile"], fallback=f"{unit.project.code}|{unit.code}",
                project_id=unit.project_id)
            services.occupancy_start(actor=request.user, unit=unit, party=party, role=data["role"],
                                     start=data["start"], source="staff")
    except ValidationError as exc:
        messages.error(request, "未保存：" + validation_errors_text(exc))
    else:
        messages.success(request, f"已记录{OccupantRole(data['role']).label}：{party.name}。")
    return redirect("estate:unit-detail", pk=unit.pk)


@login_required
@require_POST
@once_per_submit
def contact_create(request, pk: int):
    unit = _unit_for_edit(request, pk, permissions.can_edit_contacts)
    parties = list(Party.objects.filter(occupancies__unit=unit, occupancies__end__isnull=True).distinct())
    form = forms.ContactForm(request.POST, parties=parties)
    if not form.is_valid():
        messages.error(request, "未保存：" + form_errors_text(form))
        return redirect("estate:unit-detail", pk=unit.pk)
    data = form.cleaned_data
    party = next(p for p in parties if p.pk == data["party"])
    try:
        services.contact_add(actor=request.user, party=party, kind=data["kind"], value=data["value"],
                             source=data["source"], label=data["label"])
    except ValidationError as exc:
        messages.error(request, "未保存：" + validation_errors_text(exc))
    else:
        messages.success(request, "联系方式已添加。")
    return redirect("estate:unit-detail", pk=unit.pk)


@login_required
@require_POST
def contact_validity(request, pk: int):
    permissions.require(permissions.can_edit_contacts, request.user)
    contact = contacts_visible(request.user).filter(pk=pk).first()
    if contact is None:
        raise Http404("联系方式不存在或不在您的责任区内。")
    form = forms.ContactValidityForm(request.POST)
    if form.is_valid():
        services.contact_set_validity(actor=request.user, contact=contact, validity=form.cleaned_data["validity"],
                                      verified_on=timezone.localdate())
        messages.success(request, f"已标记为“{contact.get_validity_display()}”。")
    else:
        messages.error(request, "未保存：" + form_errors_text(form))
    return redirect_next(request, "estate:party-detail", pk=contact.party_id)
