from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from wuye.accounts.models import AuditEvent, Territory, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    fieldsets = [*BaseUserAdmin.fieldsets, ("物业收缴", {"fields": ["role", "display_name", "mobile", "projects"]})]
    add_fieldsets = [*BaseUserAdmin.add_fieldsets, ("物业收缴", {"fields": ["role", "display_name"]})]
    filter_horizontal = ["groups", "user_permissions", "projects"]


@admin.register(Territory)
class TerritoryAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "building", "floor_from", "floor_to"]
    list_filter = ["project"]
    raw_id_fields = ["building"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only."""

    list_display = ["created_at", "actor", "actor_label", "verb", "object_repr"]
    list_filter = ["verb"]
    search_fields = ["object_repr", "verb", "note"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
