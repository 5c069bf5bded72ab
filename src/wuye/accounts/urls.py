from django.contrib.auth import views as auth_views
from django.urls import path

from wuye.accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit/", views.audit_list, name="audit-list"),
    path("territories/", views.territory_list, name="territory-list"),
    path("territories/<int:pk>/remove/", views.territory_remove, name="territory-remove"),
]
