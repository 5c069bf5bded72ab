"""One FilterSet per list, shared by the staff pages and the API."""

from __future__ import annotations

import django_filters

from wuye.common.filters import BoundedFilterSet, IntFilter
from wuye.estate.choices import OccupancyState, PropertyType
from wuye.estate.models import Unit
from wuye.estate.selectors import unit_search_q


class UnitFilterSet(BoundedFilterSet):
    q = django_filters.CharFilter(method="filter_q", label="搜索")
    project = IntFilter(field_name="project_id", label="项目")
    building = IntFilter(field_name="building_id", label="楼栋")
    property_type = django_filters.ChoiceFilter(choices=PropertyType.choices, label="物业类型")
    state = django_filters.ChoiceFilter(choices=OccupancyState.choices, label="入住状态")
    floor = IntFilter(label="楼层")
    area_min = django_filters.NumberFilter(field_name="area", lookup_expr="gte", label="面积≥")
    area_max = django_filters.NumberFilter(field_name="area", lookup_expr="lte", label="面积≤")

    class Meta:
        model = Unit
        fields = ["q", "project", "building", "property_type", "state", "floor", "area_min", "area_max"]

    def filter_q(self, queryset, name, value):
        """The search limited to the projects the list can show (the user's, or the one chosen): its index
        probes then read those projects' units, not the estate's (decision 180)."""
        return queryset.filter(unit_search_q(value, self._project_ids(), self.names_within()))

    def names_within(self):
        """A collector's names are looked for in their territories (the cap of decision 203 counts theirs)."""
        from wuye.accounts.selectors import unit_scope_q

        user = getattr(self.request, "user", None)
        return unit_scope_q(user, "unit__") if getattr(user, "territory_bound", False) else None

    def name_capped(self) -> bool:
        """Whether the search's names reached the cap: the page asks for a longer name (decision 203)."""
        from wuye.estate.selectors import name_matches_capped

        text = (self.form.cleaned_data.get("q") or "") if hasattr(self.form, "cleaned_data") else ""
        return bool(text.strip()) and name_matches_capped(text, self._project_ids(), self.names_within())

    def _project_ids(self) -> list[int] | None:
        from wuye.accounts.selectors import scope_project_ids

        user = getattr(self.request, "user", None)
        ids = scope_project_ids(user) if user is not None else None
        chosen = self.form.cleaned_data.get("project") if hasattr(self.form, "cleaned_data") else None
        if chosen:
            return [chosen] if ids is None or chosen in ids else []
        return ids
