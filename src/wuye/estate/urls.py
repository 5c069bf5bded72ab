from django.urls import path

from wuye.estate import views

app_name = "estate"
urlpatterns = [
    path("projects/", views.project_list, name="project-list"),
    path("units/", views.unit_list, name="unit-list"),
    path("units/export.xlsx", views.unit_export, name="unit-export"),
    path("units/<int:pk>/", views.unit_detail, name="unit-detail"),
    path("units/<int:pk>/state/", views.unit_state, name="unit-state"),
    path("units/<int:pk>/occupancy/", views.unit_occupancy, name="unit-occupancy"),
    path("units/<int:pk>/contacts/", views.contact_create, name="contact-create"),
    path("contacts/<int:pk>/validity/", views.contact_validity, name="contact-validity"),
    path("parties/", views.party_list, name="party-list"),
    path("parties/<int:pk>/", views.party_detail, name="party-detail"),
    path("contacts/<int:pk>/reveal/", views.contact_reveal, name="contact-reveal"),
    path("imports/", views.import_list, name="import-list"),
    path("imports/template.xlsx", views.import_template, name="import-template"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
    path("imports/<int:pk>/progress/", views.import_progress, name="import-progress"),
    path("imports/<int:pk>/errors.xlsx", views.import_error_report, name="import-errors"),
]
