from django.urls import path

from wuye.dunning import views

app_name = "dunning"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("policies/", views.policies, name="policies"),
    path("policies/<int:pk>/", views.policy_detail, name="policy-detail"),
    path("templates/<int:pk>/", views.template_edit, name="template-edit"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:pk>/", views.action_detail, name="action-detail"),
    path("outbox/<int:pk>/verify/", views.action_verify, name="action-verify"),
    path("tasks/", views.tasks, name="tasks"),
    path("tasks/<int:pk>/close/", views.task_close, name="task-close"),
    path("calendar/", views.calendar_days, name="calendar"),
    path("notices/", views.notices, name="notices"),
    path("notices/poster/", views.poster, name="poster"),
    path("outbox/<int:pk>/referral.pdf", views.referral_draft, name="referral-draft"),
    path("units/<int:pk>/", views.unit_collection, name="unit"),
    path("units/<int:pk>/holds/<int:hold_pk>/release/", views.hold_release, name="hold-release"),
]
