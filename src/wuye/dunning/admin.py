"""The Django admin's view of the collection engine's texts. Saving runs the model's guardrail check (the
admin form calls ``MessageTemplate.clean``), bumps the version and writes an audit event, as the page does."""

from django.contrib import admin

from wuye.accounts.services import audit_record
from wuye.dunning.models import CalendarDay, CalendarYear, MessageTemplate


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "channel", "project", "version", "updated_at"]
    list_filter = ["channel"]
    search_fields = ["code", "name", "body"]
    readonly_fields = ["version", "updated_at", "updated_by"]
    raw_id_fields = ["project"]

    def save_model(self, request, obj, form, change):
        if change:
            obj.version += 1
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        audit_record(actor=request.user, verb="dunning.template", obj=obj, note="admin",
                     after={"version": obj.version, "subject": obj.subject, "body": obj.body})


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ["date", "kind", "name", "entered_by", "entered_at"]
    list_filter = ["kind"]
    readonly_fields = ["entered_by", "entered_at"]

    def save_model(self, request, obj, form, change):
        obj.entered_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ["year", "confirmed_by", "confirmed_at", "note"]
    readonly_fields = ["confirmed_by", "confirmed_at"]

    def save_model(self, request, obj, form, change):
        obj.confirmed_by = request.user
        super().save_model(request, obj, form, change)
