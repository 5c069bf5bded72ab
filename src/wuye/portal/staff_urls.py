from django.urls import path

from wuye.portal import staff_views

app_name = "portal-admin"
urlpatterns = [
    path("", staff_views.payments, name="payments"),
    path("resolve/", staff_views.resolve, name="resolve"),
    path("orders/<int:pk>/refund/", staff_views.order_refund, name="order-refund"),
    path("links/", staff_views.link_new, name="link-new"),
    path("links/<int:pk>/revoke/", staff_views.link_revoke, name="link-revoke"),
]
