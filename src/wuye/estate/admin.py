from django import forms
from django.contrib import admin

from wuye.estate.importer import area_problem
from wuye.estate.models import (
    Building,
    ContactPoint,
    ImportJob,
    Occupancy,
    Party,
    Project,
    Unit,
    UnitStateChange,
)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "city", "developer"]
    search_fields = ["code", "name"]
    list_filter = ["kind"]
    raw_id_fields = ["developer"]


@admin.register(Building)
class BuildingAdmin(admin.ModelAdmin):
    list_display = ["project", "code", "name", "floors"]
    list_filter = ["project"]
    search_fields = ["code", "name"]


class StateInline(admin.TabularInline):
    model = UnitStateChange
    extra = 0
    readonly_fields = ["state", "since", "recorded_at", "recorded_by", "source"]
    can_delete = False


class OccupancyInline(admin.TabularInline):
    model = Occupancy
    extra = 0
    raw_id_fields = ["party", "recorded_by"]
    can_delete = False


class UnitAdminForm(forms.ModelForm):
    """The area gets the import's messages (大于 0, 小于 100,000,000 m², two decimals), not a digit count."""

    area = forms.DecimalField(label="建筑面积(m²)")

    class Meta:
        model = Unit
        fields = ["project", "building", "entrance", "floor", "number", "code", "property_type", "area", "state",
                  "delivered_on"]

    def clean_area(self):
        area = self.cleaned_data["area"]
        problem = area_problem(area)
        if problem:
            raise forms.ValidationError(problem)
        return area


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    form = UnitAdminForm
    list_display = ["code", "project", "building", "floor", "property_type", "area", "state"]
    list_filter = ["project", "property_type", "state"]
    search_fields = ["code", "number"]
    raw_id_fields = ["building"]
    inlines = [OccupancyInline, StateInline]
    list_select_related = ["project", "building"]


class ContactInline(admin.TabularInline):
    model = ContactPoint
    extra = 0


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "is_developer", "lives_elsewhere", "is_investor"]
    list_filter = ["kind", "is_developer"]
    search_fields = ["name", "natural_key"]
    raw_id_fields = ["designated_signer"]
    inlines = [ContactInline]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "filename", "status", "total_rows", "created_by", "created_at"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]
