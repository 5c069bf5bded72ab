from __future__ import annotations

from rest_framework import serializers

from wuye.common.formatting import mask_email, mask_id_number, mask_phone, mask_text
from wuye.estate.choices import ContactKind
from wuye.estate.models import Building, ContactPoint, Party, Project, Unit


def masked_contact_value(contact: ContactPoint, user) -> str:
    """What ``user`` sees of a contact value: clear for PII roles, otherwise a mask."""
    if user.sees_pii:
        return contact.value
    if contact.kind in (ContactKind.MOBILE, ContactKind.LANDLINE):
        return mask_phone(contact.value)
    if contact.kind == ContactKind.EMAIL:
        return mask_email(contact.value)
    return mask_text(contact.value)


class ProjectSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Project
        fields = ["id", "code", "name", "kind", "kind_display", "city", "address"]


class BuildingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Building
        fields = ["id", "project", "code", "name", "floors"]


class UnitSerializer(serializers.ModelSerializer):
    project_name = serializers.CharField(source="project.name", read_only=True)
    building_name = serializers.CharField(source="building.name", read_only=True)
    property_type_display = serializers.CharField(source="get_property_type_display", read_only=True)
    state_display = serializers.CharField(source="get_state_display", read_only=True)
    owner_id = serializers.IntegerField(read_only=True, allow_null=True)
    owner_name = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Unit
        fields = [
            "id", "project", "project_name", "building", "building_name", "entrance", "floor", "number", "code",
            "property_type", "property_type_display", "area", "state", "state_display", "delivered_on",
            "owner_id", "owner_name",
        ]


class ContactPointSerializer(serializers.ModelSerializer):
    value = serializers.SerializerMethodField()
    masked = serializers.SerializerMethodField()

    class Meta:
        model = ContactPoint
        fields = ["id", "party", "kind", "value", "masked", "label", "source", "validity", "last_verified",
                  "is_primary"]

    def get_value(self, obj) -> str:
        return masked_contact_value(obj, self.context["request"].user)

    def get_masked(self, obj) -> bool:
        return not self.context["request"].user.sees_pii


class PartySerializer(serializers.ModelSerializer):
    id_number = serializers.SerializerMethodField()

    class Meta:
        model = Party
        fields = ["id", "kind", "name", "id_number", "is_developer", "lives_elsewhere", "is_investor",
                  "preferred_channel", "preferred_time", "designated_signer"]

    def get_id_number(self, obj) -> str:
        user = self.context["request"].user
        return obj.id_number if user.sees_pii else mask_id_number(obj.id_number)


class RevealSerializer(serializers.Serializer):
    value = serializers.CharField()
