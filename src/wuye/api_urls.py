"""Every REST endpoint under /api/v1/, one router."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from wuye.accounts.api import AuditEventViewSet
from wuye.banking.api import StatementDetailView, StatementLinesView, StatementListCreateView
from wuye.billing.api import PaymentCreateView, StatementView
from wuye.casework.api import (
    ContactCreateView,
    PromiseCreateView,
    TalkingPointDetailView,
    TalkingPointListView,
    WorklistView,
)
from wuye.dunning.api import CollectionView, MessageTemplateDetailView, MessageTemplateListView, receipt_view
from wuye.estate.api import BuildingViewSet, ContactPointViewSet, PartyViewSet, ProjectViewSet, UnitViewSet
from wuye.portal.api import alipay_notify, wechat_notify

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("buildings", BuildingViewSet, basename="building")
router.register("units", UnitViewSet, basename="unit")
router.register("parties", PartyViewSet, basename="party")
router.register("contacts", ContactPointViewSet, basename="contact")
router.register("audit-events", AuditEventViewSet, basename="auditevent")

urlpatterns = [
    path("units/<int:pk>/statement/", StatementView.as_view(), name="unit-statement"),
    path("payments/", PaymentCreateView.as_view(), name="payment-create"),
    path("units/<int:pk>/collection/", CollectionView.as_view(), name="unit-collection"),
    path("pay/wechat/notify/", wechat_notify, name="pay-wechat-notify"),
    path("pay/alipay/notify/", alipay_notify, name="pay-alipay-notify"),
    path("receipts/<str:provider>/<str:token>/", receipt_view, name="delivery-receipts"),
    path("bank-statements/", StatementListCreateView.as_view(), name="bank-statement-list"),
    path("bank-statements/<int:pk>/", StatementDetailView.as_view(), name="bank-statement-detail"),
    path("bank-statements/<int:pk>/lines/", StatementLinesView.as_view(), name="bank-statement-lines"),
    path("worklist/", WorklistView.as_view(), name="worklist"),
    path("contacts/", ContactCreateView.as_view(), name="contact-create"),
    path("promises/", PromiseCreateView.as_view(), name="promise-create"),
    path("message-templates/", MessageTemplateListView.as_view(), name="message-template-list"),
    path("message-templates/<int:pk>/", MessageTemplateDetailView.as_view(), name="message-template-detail"),
    path("talking-points/", TalkingPointListView.as_view(), name="talking-point-list"),
    path("talking-points/<int:pk>/", TalkingPointDetailView.as_view(), name="talking-point-detail"),
    path("", include(router.urls)),
]
