from django.urls import path

from wuye.insights import views

app_name = "insights"

urlpatterns = [
    path("", views.home, name="home"),
    path("units/", views.units, name="units"),
    path("export/<str:table>.xlsx", views.export, name="export"),
    path("targets/", views.targets, name="targets"),
    path("refresh/", views.refresh, name="refresh"),
    path("steps/", views.steps, name="steps"),
    path("credit/", views.credit, name="credit"),
    path("risk/", views.risk, name="risk"),
    path("report/<str:month>.pdf", views.report_pdf, name="report-pdf"),
    path("disclosure/", views.disclosure, name="disclosure"),
    path("disclosure/expenses/", views.disclosure_expense, name="disclosure-expense"),
    path("disclosure/publish/", views.disclosure_publish, name="disclosure-publish"),
    path("disclosure/<int:pk>/poster/", views.disclosure_poster, name="disclosure-poster"),
]
