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
    VisitCreateView,
    WorklistView,
)
from wuye.dunning.api import CollectionView, MessageTemplateDetailView, MessageTemplateListView, receipt_view
from wuye.estate.api import BuildingViewSet, ContactPointViewSet, PartyViewSet, ProjectViewSet, UnitViewSet
from wuye.insights import api as insights_api
from wuye.legal import api as legal_api
from wuye.portal.api import alipay_notify, wechat_notify
from wuye.portal.field_api import FieldPaymentDecisionView, FieldPaymentListCreateView

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
    path("visits/", VisitCreateView.as_view(), name="visit-create"),
    path("field-payments/", FieldPaymentListCreateView.as_view(), name="field-payment-list"),
    path("field-payments/<int:pk>/decision/", FieldPaymentDecisionView.as_view(), name="field-payment-decision"),
    path("message-templates/", MessageTemplateListView.as_view(), name="message-template-list"),
    path("message-templates/<int:pk>/", MessageTemplateDetailView.as_view(), name="message-template-detail"),
    path("talking-points/", TalkingPointListView.as_view(), name="talking-point-list"),
    path("talking-points/<int:pk>/", TalkingPointDetailView.as_view(), name="talking-point-detail"),
    path("legal/cases/", legal_api.CaseListCreateView.as_view(), name="legal-cases"),
    path("legal/cases/<int:pk>/", legal_api.CaseDetailView.as_view(), name="legal-case"),
    path("legal/cases/<int:pk>/events/", legal_api.CaseEventView.as_view(), name="legal-case-events"),
    path("legal/cases/<int:pk>/deadlines/", legal_api.CaseDeadlineView.as_view(), name="legal-case-deadlines"),
    path("legal/cases/<int:pk>/owner/", legal_api.CaseOwnerView.as_view(), name="legal-case-owner"),
    path("legal/cases/<int:pk>/costs/", legal_api.CaseCostView.as_view(), name="legal-case-costs"),
    path("legal/cases/<int:pk>/payment-order-check/", legal_api.PaymentOrderCheckView.as_view(),
         name="legal-case-payment-order-check"),
    path("legal/cases/<int:pk>/documents/<str:kind>/", legal_api.CaseDocumentView.as_view(),
         name="legal-case-document"),
    path("legal/cases/<int:pk>/packs/", legal_api.CasePacksView.as_view(), name="legal-case-packs"),
    path("legal/packs/<int:pk>/<str:fmt>/", legal_api.PackFileView.as_view(), name="legal-pack-file"),
    path("legal/clocks/", legal_api.ClocksView.as_view(), name="legal-clocks"),
    path("legal/expiring/", legal_api.ExpiringView.as_view(), name="legal-expiring"),
    path("legal/court-fee/", legal_api.CourtFeeView.as_view(), name="legal-court-fee"),
    path("legal/proofs/", legal_api.ProofCreateView.as_view(), name="legal-proofs"),
    path("insights/figures/", insights_api.FiguresView.as_view(), name="insights-figures"),
    path("insights/trend/", insights_api.TrendView.as_view(), name="insights-trend"),
    path("insights/ageing/", insights_api.AgeingView.as_view(), name="insights-ageing"),
    path("insights/units/", insights_api.UnitsView.as_view(), name="insights-units"),
    path("insights/targets/", insights_api.TargetsView.as_view(), name="insights-targets"),
    path("insights/adjustments/", insights_api.AdjustmentsView.as_view(), name="insights-adjustments"),
    path("insights/steps/", insights_api.StepsView.as_view(), name="insights-steps"),
    path("insights/collectors/", insights_api.CollectorsView.as_view(), name="insights-collectors"),
    path("insights/credit/", insights_api.CreditView.as_view(), name="insights-credit"),
    path("insights/disclosures/", insights_api.DisclosuresView.as_view(), name="insights-disclosures"),
    path("insights/risk/", insights_api.RiskView.as_view(), name="insights-risk"),
    path("", include(router.urls)),
]
