"""REST: the requesting collector's worklist, recording a contact, recording a promise to pay, the library
of talking points (managers add and change points through the guardrails)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from wuye.accounts.models import User
from wuye.casework import selectors, services
from wuye.casework.choices import VISIT_OUTCOMES, ContactChannel, DisputeReason, Outcome, Relationship
from wuye.casework.models import TalkingPoint
from wuye.common.api import AmountFenField, IdField
from wuye.common.formatting import AMOUNT_MAX_FEN
from wuye.common.once import idempotent
from wuye.common.params import FLOOR_MAX, FLOOR_MIN, date_param, id_param, int_param
from wuye.common.templatetags.wuye import with_unit
from wuye.dunning.choices import AccountClass
from wuye.dunning.models import Task
from wuye.estate.models import ContactPoint
from wuye.estate.selectors import unit_visible_or_404


class TalkingPointBrief(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    body = serializers.CharField()


class WorkRowSerializer(serializers.Serializer):
    unit_id = serializers.IntegerField()
    code = serializers.CharField()
    building = serializers.CharField()
    floor = serializers.IntegerField(allow_null=True)
    owner = serializers.CharField()
    phone_id = serializers.IntegerField(allow_null=True, help_text="联系方式编号；完整号码经 /estate/contacts/<id>/reveal/ 查看并留痕")
    phone_masked = serializers.CharField()
    overdue_fen = serializers.IntegerField()
    amount = serializers.CharField(help_text="如 ¥1,234.50")
    days_overdue = serializers.IntegerField()
    periods = serializers.IntegerField()
    account_class = serializers.CharField()
    class_label = serializers.CharField()
    priority = serializers.IntegerField(help_text="1 承诺到期/失约；2 催缴任务；3 每日电话；4 大额或长期；5 新增；6 其他")
    why = serializers.CharField()
    next_step = serializers.CharField(help_text="下一步：承诺前一天提醒、今天的任务或分类决定的跟进")
    task_ids = serializers.ListField(child=serializers.IntegerField())
    promise_on = serializers.DateField(allow_null=True)
    promise_fen = serializers.IntegerField(allow_null=True)
    disputed = serializers.BooleanField()
    broken_promises = serializers.IntegerField(help_text="业主失约（承诺到期未缴）的次数")
    limitation_soon = serializers.IntegerField(help_text="60 天内将超过诉讼时效的账期数")
    limitation_barred = serializers.IntegerField(help_text="已超过诉讼时效的账期数")
    last_on = serializers.DateField(allow_null=True)
    last_outcome = serializers.CharField()
    last_outcome_label = serializers.CharField()
    points = serializers.SerializerMethodField(help_text="话术，{房号} 已填为本户房号（与页面相同）")

    @extend_schema_field(TalkingPointBrief(many=True))
    def get_points(self, row) -> list[dict]:
        return [{"id": p.pk, "title": p.title, "body": with_unit(p.body, row.code)} for p in row.points]


class WorklistSerializer(serializers.Serializer):
    date = serializers.DateField(source="day")
    note = serializers.CharField()
    count = serializers.SerializerMethodField()
    rows = WorkRowSerializer(many=True)

    def get_count(self, obj) -> int:
        return len(obj.rows)


def _date(raw: str | None, field: str) -> dt.date:
    return date_param({field: raw}, field, timezone.localdate())


def _service_errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(getattr(exc, "message_dict", {"non_field_errors": exc.messages}))


class WorklistView(APIView):
    """The requesting collector's accounts for the day, most urgent first (a manager passes ``collector``)."""

    @extend_schema(parameters=[
        OpenApiParameter("date", str, description="YYYY-MM-DD，默认今天"),
        OpenApiParameter("collector", int, description="经理查看某收费员的清单时填写"),
        OpenApiParameter("building", int), OpenApiParameter("floor_from", int), OpenApiParameter("floor_to", int),
        OpenApiParameter("account_class", str, enum=AccountClass.values),
        OpenApiParameter("min_fen", int, description="欠费金额下限（分）"),
        OpenApiParameter("limit", int, description="最多返回条数，默认 200"),
    ], responses=WorklistSerializer)
    def get(self, request):
        p = request.query_params
        day = _date(p.get("date"), "date")

        def floor(name):
            return int_param(p, name, min_value=FLOOR_MIN, max_value=FLOOR_MAX)

        klass = p.get("account_class", "")
        if klass and klass not in AccountClass.values:
            raise ValidationError({"account_class": "未知的催缴分类。"})
        collector = None
        if id_param(p, "collector") and not request.user.territory_bound:
            collector = User.objects.filter(pk=id_param(p, "collector")).first()
        wl = selectors.worklist(user=request.user, day=day, collector=collector, building_id=id_param(p, "building"),
                                floor_from=floor("floor_from"), floor_to=floor("floor_to"), account_class=klass,
                                min_fen=int_param(p, "min_fen", min_value=0, max_value=AMOUNT_MAX_FEN))
        limit = int_param(p, "limit") or 200  # 0 or absent: the default; beyond 2000: 2000
        wl.rows = wl.rows[:max(1, min(limit, 2000))]
        return Response(WorklistSerializer(wl).data)


class ContactInput(serializers.Serializer):
    unit = serializers.IntegerField(help_text="房屋编号")
    channel = serializers.ChoiceField(choices=ContactChannel.choices, error_messages={
        "invalid_choice": "联系方式应为 call、visit、wechat 或 desk。"})
    outcome = serializers.ChoiceField(choices=Outcome.choices, error_messages={"invalid_choice": "未知的联系结果。"})
    reason = serializers.ChoiceField(choices=DisputeReason.choices, required=False, allow_blank=True)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)
    follow_up_on = serializers.DateField(required=False, allow_null=True)
    contact_point = IdField(required=False, allow_null=True)
    task = IdField(required=False, allow_null=True)
    promised_on = serializers.DateField(required=False, allow_null=True)
    amount_fen = AmountFenField(required=False, allow_null=True, help_text="承诺金额（分），默认全部未缴")
    hold_until = serializers.DateField(required=False, allow_null=True)
    developer_warranty = serializers.BooleanField(required=False, default=False)
    installments = serializers.IntegerField(required=False, allow_null=True, min_value=2, max_value=24,
                                            help_text="申请分期的期数（2–24）")
    corrects = IdField(required=False, allow_null=True, help_text="被更正的联系记录编号")
    on = serializers.DateField(required=False, allow_null=True, help_text="业务日期，默认今天")
    bill_ids = serializers.ListField(child=IdField(), required=False, max_length=500,
                                     help_text="拒交/争议时业主有异议的账单编号；不填为全部未缴账单")


class ContactOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    unit = serializers.IntegerField(source="unit_id")
    channel = serializers.CharField()
    outcome = serializers.CharField()
    on = serializers.DateField()
    corrects = serializers.IntegerField(source="corrects_id", allow_null=True)
    account_class = serializers.SerializerMethodField()

    def get_account_class(self, obj) -> str:
        from wuye.dunning.models import Episode

        return Episode.objects.filter(unit_id=obj.unit_id, closed_on__isnull=True).values_list(
            "account_class", flat=True).first() or ""


class ContactCreateView(APIView):
    """Record a contact outcome (the class, promise, dispute, number flag or finance check follow from it).

    ``/api/v1/contacts/`` is also where estate lists contact points (GET); that stays estate's: a GET here is
    handed to estate's viewset unchanged."""

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        from wuye.estate.api import ContactPointViewSet

        return ContactPointViewSet.as_view({"get": "list"})(request._request, *args, **kwargs)

    @extend_schema(request=ContactInput, responses={201: ContactOutput})
    @idempotent
    def post(self, request):
        from wuye.casework.models import ContactAttempt

        s = ContactInput(data=request.data)
        s.is_valid(raise_exception=True)
        d = dict(s.validated_data)
        unit = unit_visible_or_404(request.user, d.pop("unit"))
        for key, qs in (("contact_point", ContactPoint.objects.all()), ("task", Task.objects.filter(unit=unit)),
                        ("corrects", ContactAttempt.objects.filter(unit=unit))):
            if d.get(key):
                obj = qs.filter(pk=d[key]).first()
                if obj is None:
                    raise ValidationError({key: "编号不存在或不属于这套房屋。"})
                d[key] = obj
            else:
                d[key] = None
        try:
            attempt = services.contact_record(actor=request.user, unit=unit, **d)
        except DjangoValidationError as exc:
            raise _service_errors(exc) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(ContactOutput(attempt).data, status=status.HTTP_201_CREATED)


class PromiseInput(serializers.Serializer):
    unit = serializers.IntegerField(help_text="房屋编号")
    promised_on = serializers.DateField(error_messages={"required": "请填写承诺缴费日期。",
                                                        "invalid": "承诺缴费日期格式应为 YYYY-MM-DD。"})
    amount_fen = AmountFenField(required=False, allow_null=True, help_text="承诺金额（分），默认全部未缴",
                                error_messages={"invalid": "承诺金额应为整数（分）。"})
    on = serializers.DateField(required=False, allow_null=True, help_text="业务日期，默认今天")


class PromiseOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    unit = serializers.IntegerField(source="unit_id")
    promised_on = serializers.DateField()
    amount_fen = serializers.IntegerField()
    state = serializers.CharField()
    hold = serializers.IntegerField(source="hold_id")


class PromiseCreateView(APIView):
    """Record a promise to pay (without a contact record; the contact endpoint does both)."""

    @extend_schema(request=PromiseInput, responses={201: PromiseOutput})
    @idempotent
    def post(self, request):
        s = PromiseInput(data=request.data)
        s.is_valid(raise_exception=True)
        d = dict(s.validated_data)
        unit = unit_visible_or_404(request.user, d.pop("unit"))
        try:
            promise = services.promise_make(actor=request.user, unit=unit, **d)
        except DjangoValidationError as exc:
            raise _service_errors(exc) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(PromiseOutput(promise).data, status=status.HTTP_201_CREATED)


class TalkingPointSerializer(serializers.ModelSerializer):
    class Meta:
        model = TalkingPoint
        fields = ["id", "code", "account_class", "reason", "title", "body", "sort", "active", "updated_at"]
        read_only_fields = fields


class TalkingPointInput(serializers.Serializer):
    """A point's text and where it applies; the guardrails check title and body as spoken words."""

    title = serializers.CharField(max_length=60, error_messages={"required": "请填写要点。", "blank": "请填写要点。"})
    body = serializers.CharField(error_messages={"required": "请填写话术内容。", "blank": "请填写话术内容。"})
    account_class = serializers.ChoiceField(choices=[""] + list(AccountClass.values), required=False, default="")
    reason = serializers.ChoiceField(choices=[""] + list(DisputeReason.values), required=False, default="")
    sort = serializers.IntegerField(min_value=0, max_value=32000, required=False, default=100)
    active = serializers.BooleanField(required=False, default=True)


class TalkingPointListView(APIView):
    """All talking points (GET); a manager adds one (POST)."""

    @extend_schema(responses=TalkingPointSerializer(many=True))
    def get(self, request):
        return Response(TalkingPointSerializer(TalkingPoint.objects.order_by("sort", "pk"), many=True).data)

    @extend_schema(request=TalkingPointInput, responses={201: TalkingPointSerializer})
    @idempotent
    def post(self, request):
        return _talking_point_save(request, None, status.HTTP_201_CREATED)


class TalkingPointDetailView(APIView):
    """One talking point; a manager changes it (PUT/PATCH with the whole point)."""

    @extend_schema(responses=TalkingPointSerializer)
    def get(self, request, pk: int):
        return Response(TalkingPointSerializer(get_object_or_404(TalkingPoint, pk=pk)).data)

    @extend_schema(request=TalkingPointInput, responses=TalkingPointSerializer)
    def put(self, request, pk: int):
        return _talking_point_save(request, get_object_or_404(TalkingPoint, pk=pk), status.HTTP_200_OK)

    @extend_schema(request=TalkingPointInput, responses=TalkingPointSerializer)
    def patch(self, request, pk: int):
        point = get_object_or_404(TalkingPoint, pk=pk)
        incoming = request.data.dict() if hasattr(request.data, "dict") else request.data
        data = {**TalkingPointSerializer(point).data, **incoming}
        return _talking_point_save(request, point, status.HTTP_200_OK, data)


def _talking_point_save(request, point, code, data=None):
    s = TalkingPointInput(data=request.data if data is None else data)
    s.is_valid(raise_exception=True)
    try:
        point = services.talking_point_save(actor=request.user, point=point, **s.validated_data)
    except DjangoValidationError as exc:
        raise _service_errors(exc) from exc
    except DjangoPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from exc
    return Response(TalkingPointSerializer(point).data, status=code)


class VisitInput(serializers.Serializer):
    """上门记录: what was found at the door, who was met, a photo (JPEG/PNG, bounded as the page bounds it)."""

    unit = serializers.IntegerField(help_text="房屋编号", error_messages={"invalid": "房屋编号应为整数。"})
    outcome = serializers.ChoiceField(choices=[(o.value, o.label) for o in VISIT_OUTCOMES], error_messages={
        "invalid_choice": "上门结果应为 " + "、".join(o.value for o in VISIT_OUTCOMES) + " 之一。",
        "required": "请选择上门结果。"})
    person_met = serializers.CharField(required=False, allow_blank=True, max_length=50,
                                       error_messages={"max_length": "见到的人不能超过 50 字。"})
    relationship = serializers.ChoiceField(choices=Relationship.choices, required=False, allow_blank=True,
                                           error_messages={"invalid_choice": "未知的关系。"})
    note = serializers.CharField(required=False, allow_blank=True, max_length=500,
                                 error_messages={"max_length": "备注不能超过 500 字。"})
    photo = serializers.FileField(required=False, allow_null=True, allow_empty_file=True,
                                  help_text="照片（JPG 或 PNG，按内容识别；大小上限同上门记录页面）")
    on = serializers.DateField(required=False, allow_null=True, help_text="上门日期，默认今天",
                               error_messages={"invalid": "上门日期格式应为 YYYY-MM-DD。"})
    follow_up_on = serializers.DateField(required=False, allow_null=True,
                                         error_messages={"invalid": "下次跟进日期格式应为 YYYY-MM-DD。"})
    task = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)
    party = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1,
                                     help_text="见到或找的欠费人，默认该房屋的欠费人（现业主）")


class VisitPhotoOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    uploaded_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField()

    def get_url(self, obj) -> str:
        from django.urls import reverse

        return reverse("casework:visit-photo", args=[obj.pk])


class VisitOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    unit = serializers.IntegerField(source="unit_id")
    party = serializers.IntegerField(source="party_id", allow_null=True)
    outcome = serializers.CharField()
    outcome_label = serializers.CharField(source="get_outcome_display")
    person_met = serializers.CharField()
    relationship = serializers.CharField()
    on = serializers.DateField()
    photos = VisitPhotoOutput(many=True)
    account_class = serializers.SerializerMethodField()

    def get_account_class(self, obj) -> str:
        return ContactOutput().get_account_class(obj)


class VisitCreateView(APIView):
    """Record a visit (上门记录) as the visit page does: same scope (a collector only in their territory), same
    checks (a posted notice needs a photo; meeting someone needs the relationship), the photo sniffed,
    bounded and re-encoded, kept with its SHA-256. Multipart for a photo; JSON without one."""

    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request={"multipart/form-data": VisitInput, "application/json": VisitInput},
                   responses={201: VisitOutput})
    @idempotent
    def post(self, request):
        s = VisitInput(data=request.data)
        s.is_valid(raise_exception=True)
        d = dict(s.validated_data)
        unit = unit_visible_or_404(request.user, d.pop("unit"))
        today = timezone.localdate()
        task = None
        if d.get("task"):
            task = Task.objects.filter(pk=d["task"], unit=unit).first()
            if task is None:
                raise ValidationError({"task": "编号不存在或不属于这套房屋。"})
        try:
            party = services.debtor_for(unit, today, party_id=d.get("party"), task=task)
            attempt = services.visit_record(
                actor=request.user, unit=unit, outcome=d["outcome"], person_met=d.get("person_met", ""),
                relationship=d.get("relationship", ""), note=d.get("note", ""), photo=d.get("photo"),
                on=d.get("on"), task=task, party_id=party.pk if party else None,
                follow_up_on=d.get("follow_up_on"))
        except DjangoValidationError as exc:
            raise _service_errors(exc) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(VisitOutput(attempt).data, status=status.HTTP_201_CREATED)
