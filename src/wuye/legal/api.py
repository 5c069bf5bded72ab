"""REST endpoints of the legal module under /api/v1/legal/ (legal, managers and admins; proofs also collectors
and customer service within their scope). Errors use the project's one format."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, permissions, serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from wuye.common.api import AmountFenField, IdField
from wuye.common.once import idempotent
from wuye.common.params import date_param, int_param
from wuye.dunning.models import Action, Task
from wuye.estate.selectors import parties_visible, projects_visible, units_visible
from wuye.legal import documents, selectors, services
from wuye.legal.choices import (
    CostKind,
    DeadlineKind,
    DocumentKind,
    Event,
    Mediator,
    Outcome,
    ProofKind,
    Stage,
)
from wuye.legal.courtfee import KINDS, court_fee
from wuye.legal.eligibility import payment_order_conditions
from wuye.legal.models import CaseDeadline, CaseEvent, CaseLine, EvidencePack, LegalCase
from wuye.legal.pack import build_pack
from wuye.legal.permissions import can_legal, can_upload_proof


class IsLegal(permissions.BasePermission):
    message = "只有法务、经理和管理员可以查看和办理法务案件。"

    def has_permission(self, request, view):
        return can_legal(request.user)


def _errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "message_dict") else {"detail": exc.messages})


def _date(raw: str | None, name: str = "as_of") -> dt.date:
    return date_param({name: raw}, name, timezone.localdate())


# --- serializers -------------------------------------------------------------------------------------------

class CaseLineSerializer(serializers.ModelSerializer):
    unit_code = serializers.CharField(source="unit.code")

    class Meta:
        model = CaseLine
        fields = ["bill", "unit", "unit_code", "period_start", "period_end", "fee_item", "due_date", "amount_fen",
                  "open_fen", "late_fee_fen", "court_fen", "late_fee_explanation", "expiry", "holiday_unchecked",
                  "barred"]


class CaseEventSerializer(serializers.ModelSerializer):
    event_label = serializers.CharField(source="get_event_display")

    class Meta:
        model = CaseEvent
        fields = ["id", "event", "event_label", "stage", "on", "note", "law_firm", "lawyer_name", "lawyer_licence",
                  "court", "docket_no", "mediator", "amount_fen", "due_on", "outcome", "document_sha256", "created_at"]


class DeadlineSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseDeadline
        fields = ["id", "kind", "due_on", "remind_days", "note", "done_on", "reminded_on"]


class CaseSerializer(serializers.ModelSerializer):
    party_name = serializers.CharField(source="party.name")
    project_name = serializers.CharField(source="project.name")
    stage_label = serializers.CharField(source="get_stage_display")

    class Meta:
        model = LegalCase
        fields = ["id", "number", "project", "project_name", "party", "party_name", "stage", "stage_label", "owner",
                  "source_task", "opened_on", "principal_fen", "late_fee_fen", "court_late_fee_fen", "barred_fen",
                  "claim_fen", "closed_on", "outcome", "note"]


class ClockEventSerializer(serializers.Serializer):
    on = serializers.DateField()
    kind = serializers.CharField()
    label = serializers.CharField()
    ref = serializers.CharField()


class ClockSerializer(serializers.Serializer):
    bill_id = serializers.IntegerField()
    unit_id = serializers.IntegerField()
    party_id = serializers.IntegerField()
    period_start = serializers.DateField()
    due_date = serializers.DateField()
    open_fen = serializers.IntegerField()
    start = serializers.DateField(source="clock.start")
    expiry = serializers.DateField(source="clock.expiry", help_text="诉讼时效届满日（已按节假日顺延，除非 holiday_unchecked）")
    holiday_unchecked = serializers.BooleanField(source="clock.holiday_unchecked",
                                                 help_text="届满日所在年份无节假日安排：显示未顺延的日期（节假日待核）")
    barred = serializers.SerializerMethodField()
    days_left = serializers.SerializerMethodField()
    revived = serializers.BooleanField(source="clock.revived")
    events = ClockEventSerializer(source="clock.applied", many=True)
    explanation = serializers.SerializerMethodField()

    def get_barred(self, obj) -> bool:
        return obj.clock.barred(self.context["as_of"])

    def get_days_left(self, obj) -> int:
        return obj.clock.days_left(self.context["as_of"])

    def get_explanation(self, obj) -> str:
        return obj.clock.explanation()


class JudgmentSerializer(serializers.Serializer):
    event = serializers.IntegerField(help_text="判决事项 ID")
    on = serializers.DateField(help_text="判决日期")
    due_on = serializers.DateField(allow_null=True, help_text="判决写明的履行期限届满日")
    served_on = serializers.DateField(allow_null=True, help_text="判决书送达日期；上诉期自此计算，未登记为 null")
    effective_on = serializers.DateField(allow_null=True, help_text="判决生效日期")
    enforcement_from = serializers.DateField(allow_null=True, help_text="申请执行期限的起算日；未知为 null")


class CaseDetailSerializer(CaseSerializer):
    lines = CaseLineSerializer(many=True)
    events = CaseEventSerializer(many=True)
    deadlines = DeadlineSerializer(many=True)
    recovered_fen = serializers.SerializerMethodField()
    costs_fen = serializers.SerializerMethodField()
    payments_since_opening = serializers.SerializerMethodField()
    judgment = serializers.SerializerMethodField(help_text="最近一次判决：送达日期、生效日期、申请执行期限起算日（未知为 null）")

    class Meta(CaseSerializer.Meta):
        fields = CaseSerializer.Meta.fields + ["lines", "events", "deadlines", "recovered_fen", "costs_fen",
                                               "payments_since_opening", "judgment"]

    @extend_schema_field(JudgmentSerializer(allow_null=True))
    def get_judgment(self, obj) -> dict | None:
        j = services.judgment_dates(obj)
        if j is None:
            return None
        return JudgmentSerializer({"event": j.event_id, "on": j.on, "due_on": j.due_on, "served_on": j.served_on,
                                   "effective_on": j.effective_on, "enforcement_from": j.enforcement_from}).data

    def get_recovered_fen(self, obj) -> int:
        return selectors.recovered_by_case([obj.pk]).get(obj.pk, 0)

    def get_costs_fen(self, obj) -> int:
        return selectors.costs_by_case([obj.pk]).get(obj.pk, 0)

    def get_payments_since_opening(self, obj) -> list[dict]:
        return [{"id": p.pk, "unit": p.unit_id, "paid_at": p.paid_at, "amount_fen": p.amount_fen, "method": p.method,
                 "receipt_no": p.receipt_no} for p in selectors.payments_since_opening(obj)]


class CaseCreateSerializer(serializers.Serializer):
    task = IdField(required=False, help_text="律师函转介任务编号（由转介立案）")
    project = IdField(required=False)
    party = IdField(required=False, help_text="债务人（按业户立案时与 project 一起填写）")
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class EventCreateSerializer(serializers.Serializer):
    event = serializers.ChoiceField(choices=[c for c in Event.choices if c[0] != Event.OPENED])
    on = serializers.DateField()
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    law_firm = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    lawyer_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)
    lawyer_licence = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
    court = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    docket_no = serializers.CharField(required=False, allow_blank=True, default="", max_length=60)
    mediator = serializers.ChoiceField(choices=Mediator.choices, required=False, allow_blank=True, default="")
    amount_fen = AmountFenField(required=False, allow_null=True, default=None)
    due_on = serializers.DateField(required=False, allow_null=True, default=None,
                                   help_text="判决/调解书写明的履行期限届满日；judgment_effective：生效后履行期限的最后一日")
    served_on = serializers.DateField(required=False, allow_null=True, default=None,
                                      help_text="judgment：判决书送达日期（已知时填写；上诉期自此计算），"
                                                "不早于判决日期、不晚于今天；之后送达的登记 judgment_served")
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False, allow_blank=True, default="")
    document = serializers.FileField(required=False, allow_null=True, default=None,
                                     help_text="律所出具的律师函 PDF（letter_issued 必填）")


class DeadlineCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DeadlineKind.choices)
    due_on = serializers.DateField()
    remind_days = serializers.IntegerField(required=False, default=7, min_value=0, max_value=90)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class CostCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CostKind.choices)
    amount_fen = AmountFenField()
    on = serializers.DateField()
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class ConditionSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    ok = serializers.BooleanField()
    detail = serializers.CharField()


class PackSerializer(serializers.ModelSerializer):
    pdf_url = serializers.SerializerMethodField()
    zip_url = serializers.SerializerMethodField()

    class Meta:
        model = EvidencePack
        fields = ["id", "case", "as_of", "pages", "exhibits", "pdf_sha256", "zip_sha256", "chain_seq", "seconds",
                  "built_at", "pdf_url", "zip_url"]

    def get_pdf_url(self, obj) -> str:
        return f"/api/v1/legal/packs/{obj.pk}/pdf/"

    def get_zip_url(self, obj) -> str:
        return f"/api/v1/legal/packs/{obj.pk}/zip/"


class ProofCreateSerializer(serializers.Serializer):
    action = IdField(required=False)
    task = IdField(required=False)
    kind = serializers.ChoiceField(choices=ProofKind.choices)
    tracking_no = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
    signed_by = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)
    relation = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=20,
        help_text="签收人身份：本人、同住成年家属、受托人、公司前台/指定人员；挂号信/EMS 另可为“收件地址代收（门卫、驿站等）”。"
                  "其他人签收不视为送达（决定 131）。")
    signed_on = serializers.DateField(required=False, allow_null=True, default=None)
    delivered = serializers.BooleanField(required=False, default=True)
    file = serializers.FileField()


class ProofSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.IntegerField(source="action_id")
    kind = serializers.CharField()
    tracking_no = serializers.CharField()
    signed_on = serializers.DateField(allow_null=True)
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    delivered = serializers.BooleanField()
    uploaded_at = serializers.DateTimeField()


class CourtFeeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    claim_fen = serializers.IntegerField()
    fee_fen = serializers.IntegerField()
    explanation = serializers.CharField()


class ExpiringSerializer(serializers.Serializer):
    project = serializers.IntegerField(source="project_id")
    project_name = serializers.CharField(source="project.name")
    as_of = serializers.DateField()
    lines = serializers.IntegerField()
    within_30 = serializers.IntegerField()
    within_60 = serializers.IntegerField()
    within_90 = serializers.IntegerField()
    barred = serializers.IntegerField()
    barred_fen = serializers.IntegerField()
    unchecked = serializers.IntegerField()


# --- views -------------------------------------------------------------------------------------------------

def _case(request, pk) -> LegalCase:
    case = selectors.case_or_none(request.user, pk)
    if case is None:
        raise Http404
    return case


class CaseListCreateView(generics.ListAPIView):
    """Cases visible to the user (filter ``stage``, ``open=1``); POST opens one from a referral task or for a
    debtor (a settled account is refused with the reason, nothing written)."""

    permission_classes = [permissions.IsAuthenticated, IsLegal]
    serializer_class = CaseSerializer

    @extend_schema(parameters=[OpenApiParameter("stage", str, enum=Stage.values),
                               OpenApiParameter("open", bool)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        qs = selectors.cases_visible(self.request.user).order_by("-opened_on", "-pk")
        stage = self.request.query_params.get("stage")
        if stage:
            qs = qs.filter(stage=stage)
        if self.request.query_params.get("open") in ("1", "true"):
            qs = qs.filter(closed_on__isnull=True)
        return qs

    @extend_schema(request=CaseCreateSerializer, responses={201: CaseDetailSerializer})
    @idempotent
    def post(self, request):
        data = CaseCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            if "task" in v:
                task = get_object_or_404(selectors.open_referrals(request.user), pk=v["task"])
                case = services.case_open_from_referral(actor=request.user, task=task, note=v.get("note", ""))
            elif "project" in v and "party" in v:
                project = get_object_or_404(projects_visible(request.user), pk=v["project"])
                # a party of a unit the user may see: another project's id is a 404, never a message naming them
                party = get_object_or_404(parties_visible(request.user), pk=v["party"])
                case = services.case_open(actor=request.user, project=project, party=party, note=v.get("note", ""))
            else:
                raise ValidationError({"task": "请提供转介任务（task），或项目与债务人（project、party）。"})
        except DjangoValidationError as exc:
            raise _errors(exc) from exc
        return Response(CaseDetailSerializer(case).data, status=status.HTTP_201_CREATED)


class CaseDetailView(APIView):
    """A case with its frozen lines, events, deadlines, money recovered, costs and payments since opening."""

    permission_classes = [permissions.IsAuthenticated, IsLegal]

    @extend_schema(responses=CaseDetailSerializer)
    def get(self, request, pk: int):
        return Response(CaseDetailSerializer(_case(request, pk)).data)


class CaseEventView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsLegal]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(request=EventCreateSerializer, responses={201: CaseEventSerializer})
    @idempotent
    def post(self, request, pk: int):
        case = _case(request, pk)
        data = EventCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            row = services.case_event_add(actor=request.user, case=case, **data.validated_data)
        except DjangoValidationError as exc:
            raise _errors(exc) from exc
        return Response(CaseEventSerializer(row).data, status=status.HTTP_201_CREATED)


class OwnerSerializer(serializers.Serializer):
    owner = serializers.IntegerField(min_value=1, max_value=2**31 - 1,
                                     help_text="新承办人的用户 ID（在本项目工作的法务、经理或管理员）")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class CaseOwnerView(APIView):
    """Hand the case to another 承办人."""

    permission_classes = [permissions.IsAuthenticated, IsLegal]

    @extend_schema(request=OwnerSerializer, responses=CaseDetailSerializer)
    def post(self, request, pk: int):
        from wuye.legal.selectors import owners_for

        case = _case(request, pk)
        data = OwnerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # looked up among those who may hold the case: the refusal never names someone of another project
        owner = owners_for(case.project_id).filter(pk=data.validated_data["owner"]).first()
        if owner is None:
            raise ValidationError({"owner": "该用户不能承办本案：承办人须为在本项目工作的法务、经理或管理员。"})
        try:
            case = services.case_assign(actor=request.user, case=case, owner=owner, note=data.validated_data["note"])
        except DjangoValidationError as exc:
            raise _errors(exc) from exc
        return Response(CaseDetailSerializer(case).data)


class CaseDeadlineView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsLegal]

    @extend_schema(request=DeadlineCreateSerializer, responses={201: DeadlineSerializer})
    @idempotent
    def post(self, request, pk: int):
        case = _case(request, pk)
        data = DeadlineCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            d = services.deadline_add(actor=request.user, case=case, **data.validated_data)
        except DjangoValidationError as exc:
            raise _errors(exc) from exc
        return Response(DeadlineSerializer(d).data, status=status.HTTP_201_CREATED)


class CaseCostView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsLegal]

    @extend_schema(request=CostCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    @idempotent
    def post(self, request, pk: int):
        case = _case(request, pk)
        data = CostCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            cost = services.cost_add(actor=request.user, case=case, **data.validated_data)
        except DjangoValidationError as exc:
            raise _errors(exc) from exc
        return Response({"id": cost.pk, "kind": cost.kind, "amount_fen": cost.amount_fen, "on": cost.on},
                        status=status.HTTP_201_CREATED)


class PaymentOrderCheckView(APIView):
    """The 支付令 conditions (民事诉讼法 225) on the case today, each with what fails and where."""

    permission_classes = [permissions.IsAuthenticated, IsLegal]

    @extend_schema(parameters=[OpenApiParameter("as_of", str)], responses=ConditionSerializer(many=True))
    def get(self, request, pk: int):
        case = _case(request, pk)
        conditions = payment_order_conditions(case, as_of=_date(request.query_params.get("as_of")))
        return Response(ConditionSerializer(conditions, many=True).data)


class CaseDocumentView(APIView):
    """A document draft (律师函草稿, 支付令申请书, 民事起诉状) as PDF or DOCX."""

    permission_classes = [permissions.IsAuthenticated, IsLegal]

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=["pdf", "docx"])],
                   responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request, pk: int, kind: str):
        case = _case(request, pk)
        if kind not in DocumentKind.values:
            raise Http404
        fmt = request.query_params.get("format", "pdf")
        d = documents.draft(case, kind, as_of=timezone.localdate())
        if fmt == "docx":
            return HttpResponse(documents.draft_docx(d), content_type="application/vnd.openxmlformats-officedocument"
                                                                      ".wordprocessingml.document")
        return HttpResponse(documents.draft_pdf(d), content_type="application/pdf")


class CasePacksView(APIView):
    """The case's evidence packs; POST builds one (seals new records first)."""

    permission_classes = [permissions.IsAuthenticated, IsLegal]

    @extend_schema(responses=PackSerializer(many=True))
    def get(self, request, pk: int):
        return Response(PackSerializer(_case(request, pk).packs.all(), many=True).data)

    @extend_schema(request=None, responses={201: PackSerializer})
    def post(self, request, pk: int):
        pack = build_pack(actor=request.user, case=_case(request, pk))
        return Response(PackSerializer(pack).data, status=status.HTTP_201_CREATED)


class PackFileView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsLegal]

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request, pk: int, fmt: str):
        pack = get_object_or_404(EvidencePack.objects.filter(case__in=selectors.cases_visible(request.user)), pk=pk)
        if fmt not in ("pdf", "zip"):
            raise Http404
        f = pack.pdf if fmt == "pdf" else pack.zip
        return FileResponse(f.open("rb"), content_type="application/pdf" if fmt == "pdf" else "application/zip")


class ClocksView(APIView):
    """Limitation clocks of open, matured lines: by ``unit``, ``party`` (with ``project``) or ``case``."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("unit", int), OpenApiParameter("party", int),
                               OpenApiParameter("project", int), OpenApiParameter("case", int),
                               OpenApiParameter("as_of", str)], responses=ClockSerializer(many=True))
    def get(self, request):
        as_of = _date(request.query_params.get("as_of"))
        q = request.query_params
        try:
            unit, party, project, case = (int(q[k]) if q.get(k) else None for k in ("unit", "party", "project", "case"))
        except ValueError as exc:
            raise ValidationError({"detail": "编号必须是整数。"}) from exc
        if case is not None:
            if not can_legal(request.user):
                raise PermissionDenied(IsLegal.message)
            c = _case(request, case)
            clocks = selectors.limitation_clocks(as_of=as_of, bill_ids=list(c.lines.values_list("bill_id", flat=True)),
                                                 detail=True)
        elif unit is not None:
            u = units_visible(request.user).filter(pk=unit).first()
            if u is None:
                raise Http404
            clocks = selectors.limitation_clocks(as_of=as_of, unit_ids=[u.pk], detail=True)
        elif party is not None and project is not None:
            if not can_legal(request.user):
                raise PermissionDenied(IsLegal.message)
            get_object_or_404(projects_visible(request.user), pk=project)
            clocks = selectors.limitation_clocks(as_of=as_of, project_id=project, party_id=party, detail=True)
        else:
            raise ValidationError({"detail": "请提供 unit、case，或 party 与 project。"})
        clocks.sort(key=lambda lc: (lc.period_start, lc.unit_id, lc.bill_id))
        return Response(ClockSerializer(clocks, many=True, context={"as_of": as_of}).data)


class ExpiringView(APIView):
    """Per project: open periods running out within 30/60/90 days and already barred (the daily summary)."""

    permission_classes = [permissions.IsAuthenticated, IsLegal]

    @extend_schema(responses=ExpiringSerializer(many=True))
    def get(self, request):
        from wuye.accounts.selectors import project_scope_q
        from wuye.legal.models import ClockSummary

        rows = ClockSummary.objects.filter(project_scope_q(request.user, "project__")).select_related("project")
        return Response(ExpiringSerializer(rows.order_by("project__code"), many=True).data)


class CourtFeeView(APIView):
    """诉讼费 for an amount claimed: ``kind`` one of lawsuit, summary, mediated, payment_order, enforcement."""

    permission_classes = [permissions.IsAuthenticated, IsLegal]

    @extend_schema(parameters=[OpenApiParameter("amount_fen", int, required=True),
                               OpenApiParameter("kind", str, enum=list(KINDS))], responses=CourtFeeSerializer)
    def get(self, request):
        amount = int_param(request.query_params, "amount_fen", min_value=0)
        if amount is None:
            raise ValidationError({"amount_fen": "请求金额必须是整数（分）。"})
        try:
            fee = court_fee(amount, request.query_params.get("kind", "lawsuit"))
        except ValueError as exc:
            raise ValidationError({"amount_fen": str(exc)}) from exc
        return Response(CourtFeeSerializer(fee).data)


class ProofCreateView(APIView):
    """Upload a delivery proof (EMS 签收 scan, signed 回执 photo) on an action or task (multipart)."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": ProofCreateSerializer}, responses={201: ProofSerializer})
    @idempotent
    def post(self, request):
        if not can_upload_proof(request.user):
            raise PermissionDenied("您的角色不能上传送达凭证。")
        data = ProofCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        scope = units_visible(request.user).values("pk")
        action = task = None
        if v.get("action"):
            action = get_object_or_404(Action.objects.filter(unit_id__in=scope), pk=v["action"])
        elif v.get("task"):
            task = get_object_or_404(Task.objects.filter(unit_id__in=scope), pk=v["task"])
        else:
            raise ValidationError({"action": "请指定催缴动作（action）或任务（task）。"})
        try:
            proof = services.proof_upload(actor=request.user, upload=v["file"], kind=v["kind"], action=action, task=task,
                                          tracking_no=v["tracking_no"], signed_by=v["signed_by"],
                                          relation=v["relation"], signed_on=v["signed_on"], delivered=v["delivered"])
        except DjangoValidationError as exc:
            raise _errors(exc) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(ProofSerializer(proof).data, status=status.HTTP_201_CREATED)

