"""Staff pages for bank statements and direct debit."""

from django.urls import path

from wuye.banking import views

app_name = "banking"
urlpatterns = [
    path("", views.statements, name="statements"),
    path("statements/<int:pk>/", views.statement_detail, name="statement-detail"),
    path("statements/<int:pk>/state/", views.statement_progress, name="statement-progress"),
    path("statements/<int:pk>/errors.xlsx", views.statement_errors, name="statement-errors"),
    path("review/", views.review, name="review"),
    path("lines/<int:pk>/confirm/", views.line_confirm, name="line-confirm"),
    path("lines/<int:pk>/dismiss/", views.line_dismiss, name="line-dismiss"),
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/<int:pk>/", views.account_edit, name="account-edit"),
    path("mandates/", views.mandates, name="mandates"),
    path("mandates/<int:pk>/revoke/", views.mandate_revoke, name="mandate-revoke"),
    path("batches/", views.batches, name="batches"),
    path("batches/<int:pk>/", views.batch_detail, name="batch-detail"),
    path("batches/<int:pk>/debit.<str:fmt>", views.batch_export, name="batch-export"),
]
