from django.urls import path

from wuye.portal import field_views, staff_views

app_name = "portal-admin"
urlpatterns = [
    path("", staff_views.payments, name="payments"),
    path("resolve/", staff_views.resolve, name="resolve"),
    path("orders/<int:pk>/refund/", staff_views.order_refund, name="order-refund"),
    path("links/", staff_views.link_new, name="link-new"),
    path("links/<int:pk>/revoke/", staff_views.link_revoke, name="link-revoke"),
    path("doorstep/<int:pk>/", field_views.doorstep, name="doorstep"),
    path("doorstep/<int:pk>/send/", field_views.send, name="doorstep-send"),
    path("doorstep/<int:pk>/payment/", field_views.field_payment_new, name="field-payment-new"),
    path("field-payments/", field_views.field_payments, name="field-payments"),
]
