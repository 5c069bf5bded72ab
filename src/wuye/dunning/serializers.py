from rest_framework import serializers

from wuye.dunning.guardrails import GuardrailError, assert_fields_clean
from wuye.dunning.models import Action, Hold, MessageTemplate


class HoldSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display")

    class Meta:
        model = Hold
        fields = ["id", "kind", "kind_label", "starts_on", "until", "reason", "amount_fen", "party"]


class ActionSerializer(serializers.ModelSerializer):
    step = serializers.CharField(source="step.name")
    status_label = serializers.CharField(source="get_status_display")
    channel_label = serializers.CharField(source="get_channel_display")

    class Meta:
        model = Action
        fields = ["id", "decided_on", "party", "step", "stage", "channel", "channel_label", "status", "status_label",
                  "cycle", "not_before", "sent_at", "delivered_at", "periods", "deadline", "content_sha256",
                  "template_version", "provider", "provider_message_id", "last_error"]


class DecisionSerializer(serializers.Serializer):
    step = serializers.CharField(source="step.name")
    channel = serializers.CharField(source="step.channel")
    not_before = serializers.DateField()
    why = serializers.CharField()


class DebtorSerializer(serializers.Serializer):
    party = serializers.IntegerField(source="party_id", allow_null=True)
    party_name = serializers.CharField()
    former_owner = serializers.BooleanField(help_text="已不再是业主（房屋已过户），仍就其名下账期催缴")
    overdue_fen = serializers.IntegerField()
    overdue_periods = serializers.IntegerField()
    days_overdue = serializers.IntegerField()
    current_stage = serializers.IntegerField(source="stage")
    current_step = serializers.CharField(source="stage_name")
    account_class = serializers.CharField()
    ladder_done = serializers.BooleanField(help_text="催缴步骤已全部执行，待经理决定")
    today = serializers.SerializerMethodField()
    note = serializers.SerializerMethodField()

    def get_today(self, obj) -> list[dict]:
        if not obj.today:
            return []
        return DecisionSerializer([d for d in obj.today.decisions if not d.superseded], many=True).data

    def get_note(self, obj) -> str:
        return obj.today.note if obj.today else ""


class CollectionSerializer(serializers.Serializer):
    unit = serializers.IntegerField(source="unit.pk")
    unit_code = serializers.CharField(source="unit.code")
    as_of = serializers.DateField()
    segment = serializers.CharField()
    segment_label = serializers.CharField()
    policy = serializers.CharField()
    account_class = serializers.CharField(help_text="催缴分类：promised/undecided/unreachable/away/refusing，或空")
    account_class_label = serializers.CharField()
    current_stage = serializers.IntegerField(source="stage")
    current_step = serializers.CharField(source="stage_name")
    reachable = serializers.BooleanField()
    holds = HoldSerializer(many=True)
    held_today = serializers.SerializerMethodField()
    today = serializers.SerializerMethodField()
    actions = ActionSerializer(many=True)
    debtors = DebtorSerializer(many=True, help_text="每位欠费人一项（房屋过户后可能多于一项）")

    def get_held_today(self, obj) -> str | None:
        return obj.today.held[1] if obj.today and obj.today.held else None

    def get_today(self, obj) -> list[dict]:
        if not obj.today:
            return []
        return DecisionSerializer([d for d in obj.today.decisions if not d.superseded], many=True).data


class MessageTemplateSerializer(serializers.ModelSerializer):
    channel_label = serializers.CharField(source="get_channel_display", read_only=True)

    class Meta:
        model = MessageTemplate
        fields = ["id", "project", "code", "name", "channel", "channel_label", "subject", "body",
                  "provider_template_id", "version", "updated_at"]
        read_only_fields = fields


class MessageTemplateInput(serializers.Serializer):
    """A template's new text. Checked by the guardrails for the template's channel before the service runs
    (the model checks again on save)."""

    subject = serializers.CharField(required=False, allow_blank=True, max_length=120)
    body = serializers.CharField(error_messages={"required": "请填写正文。", "blank": "请填写正文。"})
    provider_template_id = serializers.CharField(required=False, allow_blank=True, max_length=40)

    def validate(self, data):
        template: MessageTemplate = self.context["template"]
        try:
            assert_fields_clean({"subject": data.get("subject", template.subject), "body": data["body"]},
                                channel=template.channel)
        except GuardrailError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return data
