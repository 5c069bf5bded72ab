from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.views.decorators.http import require_POST

from wuye.accounts import permissions
from wuye.accounts.choices import Role
from wuye.accounts.models import Territory, User
from wuye.accounts.selectors import audit_events_visible
from wuye.accounts.services import territory_assign
from wuye.accounts.services import territory_remove as territory_remove_service
from wuye.common.params import FLOOR_MAX, FLOOR_MIN
from wuye.estate.choices import OccupancyState
from wuye.estate.models import Building
from wuye.estate.selectors import projects_visible, units_visible


class LoginView(auth_views.LoginView):
    """Login; without a ``next`` address each role lands on its own first page (``WUYE_ROLE_LANDING``)."""

    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        landing = getattr(settings, "WUYE_ROLE_LANDING", {}).get(getattr(self.request.user, "role", ""))
        return resolve_url(landing) if landing else super().get_default_redirect_url()


@login_required
def home(request):
    """Overview of the projects the user works in: units by state (one grouped query)."""
    by_project = (
        units_visible(request.user)
        .values("project_id", "project__name", "project__kind")
        .annotate(
            total=Count("id"),
            vacant=Count("id", filter=Q(state=OccupancyState.VACANT)),
            rented=Count("id", filter=Q(state=OccupancyState.RENTED)),
        )
        .order_by("project__name")
    )
    rows = list(by_project)
    totals = {key: sum(r[key] for r in rows) for key in ("total", "vacant", "rented")}
    territories = request.user.territories.select_related("building") if request.user.territory_bound else None
    return render(request, "accounts/home.html", {"rows": rows, "totals": totals, "territories": territories})


@login_required
def audit_list(request):
    permissions.require(permissions.can_audit, request.user)
    qs = audit_events_visible(request.user)
    verb = request.GET.get("verb", "").strip()
    if verb:
        qs = qs.filter(verb__startswith=verb)
    obj = request.GET.get("object", "").strip()
    if obj:
        qs = qs.filter(object_repr__contains=obj)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/audit_list.html", {"page_obj": page, "verb": verb, "object": obj})


class TerritoryForm(forms.Form):
    user = forms.ModelChoiceField(label="收费员", queryset=User.objects.none())
    building = forms.ModelChoiceField(label="楼栋", queryset=Building.objects.none())
    floor_from = forms.IntegerField(label="起始楼层", required=False, min_value=FLOOR_MIN, max_value=FLOOR_MAX)
    floor_to = forms.IntegerField(label="结束楼层", required=False, min_value=FLOOR_MIN, max_value=FLOOR_MAX)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(role=Role.COLLECTOR, is_active=True).order_by("username")
        self.fields["building"].queryset = Building.objects.filter(
            project__in=projects_visible(user)
        ).select_related("project")
        for name, field in self.fields.items():
            field.widget.attrs["class"] = "form-select form-select-sm" if name in ("user", "building") else (
                "form-control form-control-sm")


@login_required
def territory_list(request):
    permissions.require(permissions.can_manage_team, request.user)
    form = TerritoryForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            territory_assign(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "责任区已分配。")
            return redirect("territory-list")
    territories = (
        Territory.objects.filter(project__in=projects_visible(request.user))
        .select_related("user", "building", "project")
        .order_by("user__username", "project__code", "building__code")
    )
    return render(request, "accounts/territory_list.html", {"territories": territories, "form": form})


@login_required
@require_POST
def territory_remove(request, pk: int):
    permissions.require(permissions.can_manage_team, request.user)
    territory = get_object_or_404(Territory.objects.filter(project__in=projects_visible(request.user)), pk=pk)
    territory_remove_service(actor=request.user, territory=territory)
    messages.success(request, "责任区已移除。")
    return redirect("territory-list")
