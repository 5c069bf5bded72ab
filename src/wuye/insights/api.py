"""The manager's numbers under /api/v1/insights/ (for head office and BI tools): the same selectors as the pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from wuye.common.params import BadParameter, date_param, id_param, int_param
from wuye.estate.selectors import projects_visible
from wuye.insights import selectors
from wuye.insights.metrics import AGE_LABELS, month_start
from wuye.insights.models import MEASURES, Target
from wuye.insights.permissions import can_set_targets, can_view


class CanViewInsights(permissions.BasePermission):
    message = "只有经理、财务和管理员可以查看经营分析。"

    def has_permission(self, request, view):
        return can_view(request.user)


def _period(request) -> dt.date:
    raw = request.query_params.get("period")
    if not raw:
        return month_start(timezone.localdate())
    try:
        return date_param({"period": f"{raw}-01"}, "period")
    except BadParameter as exc:
        raise ValidationError({"period": "月份格式为 YYYY-MM。"}) from exc


def _figures_period(request) -> dt.date:
    """A month that has figures: this one or an earlier one (a later month is a 400, not an empty answer or
    today's list under a future month's name)."""
    period = _period(request)
    if period > month_start(timezone.localdate()):
        raise ValidationError({"period": "不能查询未来的月份。"})
    return period


class GroupSerializer(serializers.Serializer):
    project = serializers.IntegerField(allow_null=True)
    building = serializers.IntegerField(allow_null=True)
    collector = serializers.IntegerField(allow_null=True)
    fee_item = serializers.IntegerField(allow_null=True)
    collection_rate = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True,
                                               help_text="收费率（当期，%）= 当期实收 ÷ 当期应收")
    household_rate = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True,
                                              help_text="户收费率（%）")
    clearance_rate = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True,
                                              help_text="清欠率（%）= 清欠实收 ÷ 月初陈欠")
    arrears_fen = serializers.IntegerField()
    target_collection_rate = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    target_clearance_rate = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    adjustment = serializers.DictField(child=serializers.IntegerField(),
                                       help_text="月结后调整（已含在各数中）")


for _m in MEASURES:
    GroupSerializer._declared_fields[_m] = serializers.IntegerField(help_text="分" if _m.endswith("_fen") else "户")


class FiguresSerializer(serializers.Serializer):
    period = serializers.CharField()
    source = serializers.ChoiceField(choices=list(selectors.SOURCE_LABELS))
    as_of = serializers.DateTimeField(allow_null=True)
    by = serializers.CharField()
    groups = GroupSerializer(many=True)


class FiguresView(APIView):
    """A month's figures grouped by company, project, building, collector (territory) or fee item."""

    permission_classes = [permissions.IsAuthenticated, CanViewInsights]

    @extend_schema(parameters=[OpenApiParameter("period", str, description="YYYY-MM，默认本月"),
                               OpenApiParameter("by", str, enum=list(selectors.DIMENSIONS))],
                   responses=FiguresSerializer)
    def get(self, request):
        by = request.query_params.get("by", "project")
        if by not in selectors.DIMENSIONS:
            raise ValidationError({"by": f"可选：{', '.join(selectors.DIMENSIONS)}"})
        period = _figures_period(request)
        month = selectors.month_figures(period, user=request.user)
        goals = selectors.targets(period, selectors.project_ids(request.user))
        groups = []
        for f in selectors.rollup(month, by):
            ids = dict(zip(selectors.DIMENSIONS[by], f.key, strict=True))
            goal = goals.get(ids.get("project_id")) if "project_id" in ids and by == "project" else None
            groups.append({"project": ids.get("project_id"), "building": ids.get("building_id"),
                           "collector": ids.get("collector_id"), "fee_item": ids.get("fee_item_id"),
                           **f.as_dict(), "target_collection_rate": goal.collection_rate if goal else None,
                           "target_clearance_rate": goal.clearance_rate if goal else None})
        return Response(FiguresSerializer({"period": f"{period:%Y-%m}", "source": month.source,
                                           "as_of": month.as_of, "by": by, "groups": groups}).data)


class TrendPointSerializer(serializers.Serializer):
    label = serializers.CharField()
    collection_rate = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    household_rate = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    clearance_rate = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    arrears_fen = serializers.IntegerField(allow_null=True)
    no_bill = serializers.CharField(help_text="该月有数字但没有当期应收时的说明（如“本月无账单（按季/半年计费）”），"
                                              "收费率和户收费率为空不是 0%；否则为空字符串")


class TrendView(APIView):
    """收费率 / 户收费率 / 清欠率 per month, from the snapshots (and the month in progress)."""

    permission_classes = [permissions.IsAuthenticated, CanViewInsights]

    @extend_schema(parameters=[OpenApiParameter("months", int, description="1–60，默认 24")],
                   responses=TrendPointSerializer(many=True))
    def get(self, request):
        months = max(1, min(60, int_param(request.query_params, "months", 24)))
        return Response(TrendPointSerializer(selectors.trend(user=request.user, months=months), many=True).data)


class AgeingSerializer(serializers.Serializer):
    bucket = serializers.CharField()
    label = serializers.CharField()
    amount_fen = serializers.IntegerField()


class AgeingView(APIView):
    """Overdue principal by age at the month's end (or today), for the user's projects."""

    permission_classes = [permissions.IsAuthenticated, CanViewInsights]

    @extend_schema(parameters=[OpenApiParameter("period", str)], responses=AgeingSerializer(many=True))
    def get(self, request):
        company = selectors.total(selectors.month_figures(_figures_period(request), user=request.user))
        return Response(AgeingSerializer([{"bucket": k, "label": label, "amount_fen": company.values[k]}
                                          for k, label in AGE_LABELS.items()], many=True).data)


class UnitRowSerializer(serializers.Serializer):
    unit = serializers.IntegerField(source="unit_id")
    code = serializers.CharField(source="unit__code")
    building = serializers.CharField(source="unit__building__name")
    project = serializers.CharField(source="unit__project__name")
    open_fen = serializers.IntegerField()
    oldest_due = serializers.DateField()
    lines = serializers.IntegerField()


class UnitsView(generics.ListAPIView):
    """The units behind a figure, narrowed like the drill-down page: a month's snapshot, by default this month's."""

    permission_classes = [permissions.IsAuthenticated, CanViewInsights]
    serializer_class = UnitRowSerializer

    @extend_schema(parameters=[OpenApiParameter(n, int) for n in ("project", "building", "collector", "fee_item")]
                   + [OpenApiParameter("bucket", str, enum=list(selectors.BUCKETS)),
                      OpenApiParameter("period", str, description="YYYY-MM：已月结的月份按月结快照列出，本月按临时快照；"
                                                                  "未月结的过去月份返回 400；默认本月（还没有临时快照时为今天仍欠的）")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema: no month to look up
            return selectors.units_in_arrears(user=self.request.user)
        q = self.request.query_params
        filters = {n: id_param(q, n) for n in ("project", "building", "collector", "fee_item")}
        bucket = q.get("bucket")
        if bucket and bucket not in selectors.BUCKETS:
            raise ValidationError({"bucket": f"可选：{', '.join(selectors.BUCKETS)}"})
        drill = selectors.drill_month(_figures_period(self.request))
        if drill.state == "unclosed":
            from wuye.insights.services import refresh_refusal

            why = refresh_refusal(drill.period)
            raise ValidationError({"period": why or f"{drill.period:%Y-%m} 尚未月结：没有该月月末的房屋明细。"})
        return selectors.units_in_arrears(user=self.request.user, bucket=bucket,
                                          period=drill.period if drill.stored else None, **filters)


class AdjustmentLineSerializer(serializers.Serializer):
    revision = serializers.IntegerField(allow_null=True, help_text="空：月结快照本身；1、2……：之后每次复核的调整")
    recorded_at = serializers.DateTimeField(allow_null=True)
    collected = serializers.IntegerField(help_text="当期实收（分）")
    settled = serializers.IntegerField(help_text="结清户数")
    cleared = serializers.IntegerField(help_text="清欠实收（分）")
    arrears = serializers.IntegerField(help_text="欠费合计（分）")
    prepaid = serializers.IntegerField(help_text="预存余额（分）")


class AdjustmentsView(APIView):
    """月结后调整 of a closed month: the figures as closed, then each later change as its own line (late payments,
    reversals, waivers dated in the month); their sum is the month's figures now. Empty without adjustments."""

    permission_classes = [permissions.IsAuthenticated, CanViewInsights]

    @extend_schema(parameters=[OpenApiParameter("period", str, description="YYYY-MM（已月结的月份）")],
                   responses=AdjustmentLineSerializer(many=True))
    def get(self, request):
        month = selectors.month_figures(_figures_period(request), user=request.user)
        return Response(AdjustmentLineSerializer(selectors.adjustment_lines(month), many=True).data)


class TargetSerializer(serializers.ModelSerializer):
    period = serializers.DateField(read_only=True)

    class Meta:
        model = Target
        fields = ["id", "project", "period", "collection_rate", "clearance_rate", "set_at"]
        read_only_fields = ["id", "set_at"]


class TargetInSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    period = serializers.RegexField(r"^\d{4}-\d{2}$", help_text="YYYY-MM")
    collection_rate = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=Decimal(0),
                                               max_value=Decimal(100))
    clearance_rate = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=Decimal(0),
                                              max_value=Decimal(100), required=False, allow_null=True)


class TargetsView(APIView):
    """Targets per project and month: read (with ``period``), set by a manager (POST)."""

    permission_classes = [permissions.IsAuthenticated, CanViewInsights]

    @extend_schema(parameters=[OpenApiParameter("period", str)], responses=TargetSerializer(many=True))
    def get(self, request):
        goals = selectors.targets(_period(request), selectors.project_ids(request.user))
        return Response(TargetSerializer(sorted(goals.values(), key=lambda t: t.project_id), many=True).data)

    @extend_schema(request=TargetInSerializer, responses=TargetSerializer)
    def post(self, request):
        from wuye.insights.services import target_set

        if not can_set_targets(request.user):
            raise PermissionDenied("只有经理可以设定收费目标。")
        data = TargetInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        project = projects_visible(request.user).filter(pk=v["project"]).first()
        if project is None:
            raise ValidationError({"project": "项目不存在或不在您的范围内。"})
        try:
            period = dt.date.fromisoformat(f"{v['period']}-01")
            target = target_set(actor=request.user, project=project, period=period,
                                collection_rate=v["collection_rate"], clearance_rate=v.get("clearance_rate"))
        except ValueError as exc:
            raise ValidationError({"period": "月份格式为 YYYY-MM。"}) from exc
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        return Response(TargetSerializer(target).data, status=201)


class StepEffectSerializer(serializers.Serializer):
    step_id = serializers.IntegerField()
    step = serializers.CharField()
    channel = serializers.CharField()
    actions = serializers.IntegerField()
    paid_7 = serializers.IntegerField()
    paid_14 = serializers.IntegerField()
    paid_30 = serializers.IntegerField()
    rate_30 = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    recovered_fen = serializers.IntegerField()
    cost_fen = serializers.IntegerField()
    covered = serializers.IntegerField(help_text="有对照组的执行次数")
    covered_rate = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    control_rate = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    lift = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True,
                                    help_text="可比执行的 30 天缴费率 − 对照组（百分点）")


class StepsView(APIView):
    """What each ladder step recovers: paid within 7/14/30 days, money, cost, against matched accounts not
    contacted that day (decision days ``start``–``end``; ``end`` at most 30 days ago)."""

    permission_classes = [permissions.IsAuthenticated, CanViewInsights]

    @extend_schema(parameters=[OpenApiParameter("start", str), OpenApiParameter("end", str)],
                   responses=StepEffectSerializer(many=True))
    def get(self, request):
        from wuye.insights.steps import step_effects
        from wuye.insights.views import step_window

        start, end = step_window(request._request)
        effects = step_effects(start=start, end=end, project_ids=selectors.project_ids(request.user))
        return Response(StepEffectSerializer([
            {"step_id": e.step_id, "step": e.step, "channel": e.channel, "actions": e.actions, "paid_7": e.paid[7],
             "paid_14": e.paid[14], "paid_30": e.paid[30], "rate_30": e.rate(30), "recovered_fen": e.recovered_fen,
             "cost_fen": e.cost_fen, "covered": e.covered, "covered_rate": e.covered_rate,
             "control_rate": e.control_rate, "lift": e.lift} for e in effects], many=True).data)


class CollectorMonthSerializer(serializers.Serializer):
    collector = serializers.IntegerField(source="collector_id")
    name = serializers.CharField()
    billed_fen = serializers.IntegerField()
    collected_fen = serializers.IntegerField()
    collection_rate = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    old_collected_fen = serializers.IntegerField()
    clearance_rate = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    promises = serializers.IntegerField()
    kept = serializers.IntegerField()
    broken = serializers.IntegerField()
    kept_rate = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    contacts = serializers.IntegerField()
    complaints = serializers.IntegerField()


class CollectorsView(APIView):
    """收费员绩效 for a month: collected, 清欠, promises kept, contacts, complaints in the territory."""

    permission_classes = [permissions.IsAuthenticated, CanViewInsights]

    @extend_schema(parameters=[OpenApiParameter("period", str)], responses=CollectorMonthSerializer(many=True))
    def get(self, request):
        from wuye.insights.incentives import collector_incentives

        period = _figures_period(request)
        rows = collector_incentives(selectors.month_figures(period, user=request.user),
                                    project_ids=selectors.project_ids(request.user))
        return Response(CollectorMonthSerializer([
            {"collector_id": c.collector_id, "name": c.name, "billed_fen": c.figures.values["billed_fen"],
             "collected_fen": c.figures.values["collected_fen"], "collection_rate": c.figures.collection_rate,
             "old_collected_fen": c.figures.values["old_collected_fen"], "clearance_rate": c.figures.clearance_rate,
             "promises": c.promises, "kept": c.kept, "broken": c.broken, "kept_rate": c.kept_rate,
             "contacts": c.contacts, "complaints": c.complaints} for c in rows], many=True).data)


class CreditSerializer(serializers.Serializer):
    party = serializers.IntegerField(source="party_id")
    grade = serializers.CharField()
    label = serializers.CharField()
    lines = serializers.IntegerField(help_text="近 24 个月到期的账期行")
    late = serializers.IntegerField(help_text="逾期后补缴的行")
    overdue = serializers.IntegerField()
    overdue_30 = serializers.IntegerField()
    overdue_180 = serializers.IntegerField()
    broken_promises = serializers.IntegerField()


class CreditOverviewSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    distribution = serializers.DictField(child=serializers.IntegerField())
    rules = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    party = CreditSerializer(allow_null=True)


class CreditView(APIView):
    """业主信用等级: the distribution (counts) and, with ``party``, one owner's grade (for priority service at the
    desk). Never published; never a reason to withhold a service."""

    permission_classes = [permissions.IsAuthenticated, CanViewInsights]

    @extend_schema(parameters=[OpenApiParameter("party", int)], responses=CreditOverviewSerializer)
    def get(self, request):
        from wuye.estate.selectors import parties_visible
        from wuye.insights.credit import RULES, credits, distribution

        today = timezone.localdate()
        party = None
        if request.query_params.get("party"):
            pid = id_param(request.query_params, "party")
            if not parties_visible(request.user).filter(pk=pid).exists():
                raise ValidationError({"party": "业户不存在或不在您的范围内。"})
            party = credits(today=today, party_ids=[pid]).get(pid)
        ids = selectors.project_ids(request.user)
        return Response(CreditOverviewSerializer({
            "as_of": today, "distribution": distribution(today=today, project_ids=ids),
            "rules": [list(r) for r in RULES], "party": party}).data)


class DisclosureSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    year = serializers.IntegerField()
    quarter = serializers.IntegerField()
    figures = serializers.JSONField(help_text="汇总数：应收、实收、收费率、收入、按类别的支出、结余")
    published_at = serializers.DateTimeField()
    expires_on = serializers.DateField()


class DisclosuresView(generics.ListAPIView):
    """收支公示 as published (aggregates only), for the projects the user works in."""

    permission_classes = [permissions.IsAuthenticated, CanViewInsights]
    serializer_class = DisclosureSerializer

    def get_queryset(self):
        from wuye.insights.models import Disclosure

        return Disclosure.objects.filter(project__in=projects_visible(self.request.user)).order_by("-year", "-quarter",
                                                                                                   "project_id")


class RiskModelSerializer(serializers.Serializer):
    trained_at = serializers.DateTimeField()
    as_of = serializers.DateField()
    scored_on = serializers.DateField(allow_null=True)
    scored = serializers.IntegerField()
    features = serializers.ListField(child=serializers.CharField())
    coef = serializers.ListField(child=serializers.FloatField())
    intercept = serializers.FloatField()
    metrics = serializers.JSONField(help_text="验证月的 AUC、规则基线 AUC、Brier、校准分组 [平均预测, 实际比例, 户数]……")
    bands = serializers.ListField(child=serializers.ListField(), help_text="您的项目里各风险段的户数 [风险段, 户数]")


class RiskView(APIView):
    """The latest early-warning model: its time-split validation beside the days-overdue rule and what it
    learnt (no account's score: those stay on the staff pages)."""

    permission_classes = [permissions.IsAuthenticated, CanViewInsights]

    @extend_schema(responses=RiskModelSerializer)
    def get(self, request):
        from django.http import Http404

        from wuye.insights.models import RiskModel
        from wuye.insights.views import risk_context

        model = RiskModel.objects.first()
        if model is None:
            raise Http404("尚未训练预警模型。")
        model.bands = [list(b) for b in risk_context(request.user, top=0)["bands"]]
        return Response(RiskModelSerializer(model).data)
