from django.urls import path

from wuye.billing import views

app_name = "billing"
urlpatterns = [
    path("units/<int:pk>/", views.unit_statement, name="unit-statement"),
    path("owners/<int:pk>/", views.owner_statement, name="owner-statement"),
    path("units/<int:pk>/statement.pdf", views.statement_pdf, name="statement-pdf"),
    path("units/<int:pk>/statement.xlsx", views.statement_xlsx, name="statement-xlsx"),
    path("payments/<int:pk>/receipt/", views.receipt, name="receipt"),
    path("payments/<int:pk>/receipt.pdf", views.receipt_pdf, name="receipt-pdf"),
    path("bills/<int:pk>/adjust/", views.adjustment_request, name="adjustment-request"),
    path("units/<int:pk>/deliveries/", views.statement_delivery, name="statement-delivery"),
    path("units/<int:pk>/late-fees/", views.late_fee_post, name="late-fee-post"),
    path("units/<int:pk>/installments/", views.installment_request, name="installment-request"),
    path("installments/<int:pk>/decide/", views.installment_decide, name="installment-decide"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/", views.approval_decide, name="approval-decide"),
    path("units/<int:pk>/prepay/", views.prepay_take, name="prepay-take"),
    path("projects/<int:pk>/prepay-offers/", views.prepay_offers, name="prepay-offers"),
    path("projects/<int:pk>/policy/", views.billing_policy, name="policy"),
    path("runs/", views.runs, name="runs"),
    path("takings/", views.takings, name="takings"),
    path("runs/<int:pk>/reverse/", views.run_reverse, name="run-reverse"),
]
