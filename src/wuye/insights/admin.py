from django.contrib import admin

from wuye.insights.models import MonthClose, Target


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    """Targets are set on the insights page or the API (``target_set``, audited); read-only here."""

    list_display = ("project", "period", "collection_rate", "clearance_rate", "set_by", "set_at")
    list_filter = ("project",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MonthClose)
class MonthCloseAdmin(admin.ModelAdmin):
    """Closes are written by the job or ``wuye close_month``; read-only here."""

    list_display = ("period", "closed_at", "seconds", "rechecked_at", "revisions", "actor_label")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
