"""Staff pages for bank statements and direct debit (filled in by the banking work)."""

from django.urls import path  # noqa: F401

app_name = "banking"
urlpatterns: list = []
