from django.urls import path

from wuye.casework import views

app_name = "casework"
urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("units/<int:pk>/", views.case, name="case"),
    path("units/<int:pk>/contact/", views.contact, name="contact"),
    path("units/<int:pk>/quick/", views.quick_outcome, name="quick"),
    path("units/<int:pk>/visit/", views.visit, name="visit"),
    path("contacts/<int:pk>/undo/", views.undo, name="undo"),
    path("photos/<int:pk>/", views.visit_photo, name="visit-photo"),
    path("disputes/", views.disputes, name="disputes"),
    path("disputes/<int:pk>/", views.dispute_detail, name="dispute"),
    path("work-orders/", views.work_orders, name="work-orders"),
    path("work-orders/<int:pk>/", views.work_order_update, name="work-order-update"),
    path("checks/", views.checks, name="checks"),
    path("talking-points/", views.talking_points, name="talking-points"),
    path("talking-points/<int:pk>/", views.talking_points, name="talking-point"),
    path("desk/approvals/", views.desk_approvals, name="desk-approvals"),
    path("desk/approvals/<str:kind>/<int:pk>/", views.desk_decide, name="desk-decide"),
    path("desk/escalations/", views.desk_escalations, name="desk-escalations"),
    path("desk/team/", views.desk_team, name="desk-team"),
    path("desk/territories/", views.desk_territories, name="desk-territories"),
    path("desk/debrief/", views.desk_debrief, name="desk-debrief"),
]
