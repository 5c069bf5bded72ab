"""The Django admin's view of the talking-point library: the admin form calls ``TalkingPoint.clean``, so the
guardrails refuse there as on the page."""

from django.contrib import admin

from wuye.accounts.services import audit_record
from wuye.casework.models import TalkingPoint


@admin.register(TalkingPoint)
class TalkingPointAdmin(admin.ModelAdmin):
    list_display = ["sort", "code", "title", "account_class", "reason", "active"]
    list_filter = ["active", "account_class", "reason"]
    search_fields = ["code", "title", "body"]
    readonly_fields = ["updated_at", "updated_by"]

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        audit_record(actor=request.user, verb="casework.talking_point", obj=obj, project_id=None, note="admin",
                     after={"title": obj.title, "body": obj.body, "active": obj.active})
