from django.urls import path

from wuye.legal import views

app_name = "legal"

urlpatterns = [
    path("", views.case_list, name="case-list"),
    path("cases/open/", views.case_open, name="case-open"),
    path("referrals/<int:task_id>/open/", views.referral_open, name="referral-open"),
    path("cases/<int:pk>/", views.case_detail, name="case"),
    path("cases/<int:pk>/events/", views.case_event, name="case-event"),
    path("cases/<int:pk>/deadlines/", views.case_deadline, name="case-deadline"),
    path("cases/<int:pk>/owner/", views.case_owner, name="case-owner"),
    path("cases/<int:pk>/costs/", views.case_cost, name="case-cost"),
    path("cases/<int:pk>/packs/", views.case_pack, name="case-pack"),
    path("cases/<int:pk>/documents/<str:kind>.<str:fmt>", views.case_document, name="case-document"),
    path("deadlines/<int:pk>/done/", views.deadline_done, name="deadline-done"),
    path("notices/read/", views.notices_read, name="notices-read"),
    path("packs/<int:pk>/<str:fmt>/", views.pack_download, name="pack-download"),
    path("proofs/", views.proofs, name="proofs"),
    path("proofs/<int:action_id>/upload/", views.proof_upload, name="proof-upload"),
    path("proofs/file/<int:pk>/", views.proof_file, name="proof-file"),
    path("numbers/", views.numbers, name="numbers"),
    path("templates/", views.templates, name="templates"),
    path("court-fee/", views.calculator, name="calculator"),
]
