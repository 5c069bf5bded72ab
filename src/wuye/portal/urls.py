from django.urls import path

from wuye.portal import views

app_name = "portal"
urlpatterns = [
    path("return/<str:out_trade_no>/", views.order_return, name="order-return"),
    path("wechat/oauth/", views.wechat_oauth_callback, name="wechat-oauth"),
    # before "<token>/": these words are not tokens (tokens are 16 characters)
    path("login/", views.login_phone, name="login"),
    path("login/code/", views.login_code, name="login-code"),
    path("login/units/", views.login_units, name="login-units"),
    path("logout/", views.logout, name="logout"),
    path("<str:token>/", views.bill, name="bill"),
    path("<str:token>/pay/", views.pay, name="pay"),
    path("<str:token>/orders/<str:out_trade_no>/", views.order, name="order"),
    path("<str:token>/orders/<str:out_trade_no>/status/", views.order_status, name="order-status"),
    path("<str:token>/receipts/<int:payment_id>.pdf", views.receipt_pdf, name="receipt-pdf"),
    path("<str:token>/installment/", views.installment, name="installment"),
    path("<str:token>/dispute/", views.dispute, name="dispute"),
    path("<str:token>/preferences/", views.preferences, name="preferences"),
]
