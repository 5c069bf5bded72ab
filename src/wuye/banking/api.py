"""REST: upload a bank statement (queued as a background job), follow its state, read its lines.

Finance, managers and admins only, within the projects they work in; anything else is 404 (not visible)
or 403 (wrong role). Money is integer fen."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from wuye.banking import selectors, services
from wuye.banking.models import OPEN_STATUSES, LineStatus, StatementImport, StatementLine
from wuye.banking.permissions import can_bank
from wuye.common.api import Pagination
from wuye.common.formatting import format_yuan
from wuye.common.once import idempotent
from wuye.common.tabular import read_upload
from wuye.estate.importer import ImportRejected


class CanBank(permissions.BasePermission):
    message = "只有财务、经理和管理员可以处理银行对账。"

    def has_permission(self, request, view):
        return bool(request.user.is_authenticated and can_bank(request.user))


class BankStatementUploadSerializer(serializers.Serializer):
    bank_account = serializers.IntegerField(help_text="收款账户编号", error_messages={
        "required": "请指定收款账户（bank_account）。", "invalid": "收款账户编号应为整数。",
        "null": "请指定收款账户（bank_account）。"})
    file = serializers.FileField(help_text="对账单文件：.csv（UTF-8 或 GBK）或 .xlsx，按该账户保存的列映射读取",
                                 error_messages={"required": "请上传对账单文件（.csv 或 .xlsx）。",
                                                 "empty": "文件是空的。", "invalid": "请上传对账单文件（.csv 或 .xlsx）。",
                                                 "no_name": "上传的文件没有文件名。"},
                                 allow_empty_file=False)
    preview = serializers.BooleanField(required=False, default=False,
                                       help_text="true：只预览不入账（在页面上确认后再入账）")


class BankStatementErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="文件中的行号（按 Excel 行号，表头为第 1 行）；0 表示整份文件的问题")
    column = serializers.CharField(help_text="列名")
    value = serializers.CharField(help_text="该格的内容")
    message = serializers.CharField(help_text="如：第 7 行“贷方发生额”：不是有效的金额")


class BankStatementCountsSerializer(serializers.Serializer):
    lines = serializers.IntegerField(help_text="交易行数（不含合计等非交易行）")
    matched = serializers.IntegerField(help_text="自动匹配的收入笔数（已导入时即已入账笔数）")
    posted = serializers.IntegerField(help_text="已自动入账笔数")
    posted_fen = serializers.IntegerField(help_text="已自动入账金额（分）")
    to_review = serializers.IntegerField(help_text="待核对 + 未匹配（进入待核对流水）")
    review = serializers.IntegerField(help_text="待核对（有候选房屋）")
    unmatched = serializers.IntegerField(help_text="未匹配")
    ignored = serializers.IntegerField(help_text="支出（不匹配）")
    duplicates = serializers.IntegerField(help_text="此前已导入（不会重复入账）")
    skipped = serializers.IntegerField(help_text="跳过的非交易行（合计、小计、空行）")


class BankStatementSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")
    bank_account_name = serializers.CharField(source="bank_account.__str__")
    finished = serializers.BooleanField()
    counts = serializers.SerializerMethodField()
    errors = BankStatementErrorSerializer(many=True)
    error_report_url = serializers.SerializerMethodField(help_text="错误报告（Excel，登录后下载）")
    status_url = serializers.SerializerMethodField()
    lines_url = serializers.SerializerMethodField()
    uploaded_by = serializers.SerializerMethodField()

    class Meta:
        model = StatementImport
        fields = ["id", "bank_account", "bank_account_name", "filename", "status", "status_label", "finished",
                  "apply_requested", "rows_total", "attempts", "counts", "errors", "error_report_url", "created_at",
                  "started_at", "finished_at", "uploaded_by", "status_url", "lines_url"]

    def get_counts(self, obj: StatementImport) -> BankStatementCountsSerializer:
        c = obj.counts or {}
        data = {"lines": c.get("rows", obj.rows_total), "matched": c.get("matched", 0), "posted": c.get("posted", 0),
                "posted_fen": obj.posted_fen, "review": c.get("review", 0), "unmatched": c.get("unmatched", 0),
                "ignored": c.get("ignored", 0), "duplicates": c.get("duplicate", 0), "skipped": c.get("skipped", 0)}
        data["to_review"] = data["review"] + data["unmatched"]
        return BankStatementCountsSerializer(data).data

    def get_error_report_url(self, obj: StatementImport) -> str | None:
        return reverse("banking:statement-errors", args=[obj.pk]) if obj.errors else None

    def get_status_url(self, obj: StatementImport) -> str:
        return reverse("bank-statement-detail", args=[obj.pk])

    def get_lines_url(self, obj: StatementImport) -> str:
        return reverse("bank-statement-lines", args=[obj.pk])

    def get_uploaded_by(self, obj: StatementImport) -> str:
        return str(obj.created_by) if obj.created_by else obj.actor_label


class BankLineSuggestionSerializer(serializers.Serializer):
    unit_id = serializers.IntegerField()
    code = serializers.CharField()
    rule = serializers.CharField()
    confidence = serializers.IntegerField()
    why = serializers.CharField(required=False)


class BankStatementLineSerializer(serializers.ModelSerializer):
    amount = serializers.SerializerMethodField()
    payer_account = serializers.CharField(source="masked_payer_account", help_text="只显示后四位")
    status_label = serializers.CharField(source="get_status_display")
    unit_code = serializers.CharField(source="unit.code", allow_null=True, default=None)
    receipt_no = serializers.CharField(source="payment.receipt_no", allow_null=True, default=None)
    suggestions = BankLineSuggestionSerializer(many=True)

    class Meta:
        model = StatementLine
        fields = ["id", "row_no", "txn_date", "purpose", "amount_fen", "amount", "payer_name", "payer_account",
                  "memo", "status", "status_label", "rule", "confidence", "suggestions", "unit", "unit_code",
                  "payment", "receipt_no", "decision_note"]

    def get_amount(self, obj: StatementLine) -> str:
        return format_yuan(obj.amount_fen)


def _statement_or_404(request, pk: int) -> StatementImport:
    statement = selectors.imports_visible(request.user).filter(pk=pk).first()
    if statement is None:
        raise NotFound("对账单不存在或不属于您可管理的项目。")
    return statement


class StatementListCreateView(APIView):
    """Upload a statement (a background job parses, matches and posts it) or list recent imports."""

    permission_classes = [permissions.IsAuthenticated, CanBank]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": BankStatementUploadSerializer},
                   responses={202: BankStatementSerializer, 400: OpenApiResponse(description="文件或账户有误，未写入任何数据")})
    @idempotent
    def post(self, request):
        data = BankStatementUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        account = selectors.accounts_visible(request.user).filter(pk=v["bank_account"], active=True).first()
        if account is None:
            raise ValidationError({"bank_account": ["收款账户不存在、已停用或不属于您可管理的项目。"]})
        upload = v["file"]
        try:
            statement = services.statement_submit(actor=request.user, account=account, filename=upload.name,
                                                  raw=read_upload(upload), apply=not v["preview"])
        except ImportRejected as exc:
            raise ValidationError({"file": [str(exc)]}) from exc
        body = BankStatementSerializer(statement).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]})

    @extend_schema(responses=BankStatementSerializer(many=True))
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.imports_visible(request.user), request, view=self)
        return paginator.get_paginated_response(BankStatementSerializer(page, many=True).data)


class StatementDetailView(APIView):
    """An import's state (queued, running, preview, applied, failed), counts and error rows."""

    permission_classes = [permissions.IsAuthenticated, CanBank]

    @extend_schema(responses=BankStatementSerializer)
    def get(self, request, pk: int):
        return Response(BankStatementSerializer(_statement_or_404(request, pk)).data)


LINE_FILTERS = {"open": list(OPEN_STATUSES), **{s.value: [s.value] for s in LineStatus}}


class StatementLinesView(APIView):
    """An import's lines, optionally by status (``open`` = what waits in the review queue)."""

    permission_classes = [permissions.IsAuthenticated, CanBank]

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=list(LINE_FILTERS),
                                                description="open（待核对与未匹配）、review、unmatched、matched、"
                                                            "confirmed、not_ours、ignored")],
                   responses=BankStatementLineSerializer(many=True))
    def get(self, request, pk: int):
        statement = _statement_or_404(request, pk)
        lines = statement.lines.select_related("unit", "payment").order_by("row_no")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in LINE_FILTERS:
                raise ValidationError({"status": [f"未知的状态“{wanted}”，可选：{'、'.join(LINE_FILTERS)}。"]})
            lines = lines.filter(status__in=LINE_FILTERS[wanted])
        paginator = Pagination()
        page = paginator.paginate_queryset(lines, request, view=self)
        return paginator.get_paginated_response(BankStatementLineSerializer(page, many=True).data)
