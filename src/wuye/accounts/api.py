from __future__ import annotations

from rest_framework import permissions, serializers, viewsets

from wuye.accounts.choices import ROLES_AUDIT
from wuye.accounts.models import AuditEvent
from wuye.accounts.selectors import audit_events_visible


class CanReadAudit(permissions.BasePermission):
    message = "只有经理、法务和管理员可以查看审计日志。"

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_superuser or user.role in ROLES_AUDIT))


class AuditEventSerializer(serializers.ModelSerializer):
    actor_name = serializers.CharField(source="actor.__str__", read_only=True, default="")

    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor", "actor_name", "actor_label", "verb", "object_type", "object_id",
                  "object_repr", "project_id", "before", "after", "note"]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditEventSerializer
    permission_classes = [CanReadAudit]
    filterset_fields = ["verb", "object_type", "object_id", "actor"]

    def get_queryset(self):
        return audit_events_visible(self.request.user)
