from django.contrib import admin

from wuye.banking.models import BankAccount, DebitBatch, DebitLine, Mandate, StatementImport, StatementLine


@admin.register(BankAccount)
class BankAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "bank", "masked_no", "layout", "active"]
    list_filter = ["project", "layout", "active"]


@admin.register(StatementImport)
class StatementImportAdmin(admin.ModelAdmin):
    list_display = ["pk", "bank_account", "filename", "status", "created_by", "created_at", "posted_fen"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in StatementImport._meta.fields]


@admin.register(StatementLine)
class StatementLineAdmin(admin.ModelAdmin):
    list_display = ["txn_date", "bank_account", "payer_name", "amount_fen", "status", "rule", "unit"]
    list_filter = ["status", "rule", "purpose"]
    search_fields = ["payer_name", "memo", "serial"]
    readonly_fields = [f.name for f in StatementLine._meta.fields]


@admin.register(Mandate)
class MandateAdmin(admin.ModelAdmin):
    list_display = ["unit", "payer_name", "bank", "masked_no", "signed_on", "status"]
    list_filter = ["status", "project"]
    raw_id_fields = ["unit"]


class DebitLineInline(admin.TabularInline):
    model = DebitLine
    extra = 0
    can_delete = False
    readonly_fields = ["mandate", "unit", "amount_fen", "status", "result_code", "result_text", "payment"]
    fields = readonly_fields


@admin.register(DebitBatch)
class DebitBatchAdmin(admin.ModelAdmin):
    list_display = ["pk", "project", "as_of", "line_count", "amount_fen", "status"]
    inlines = [DebitLineInline]
