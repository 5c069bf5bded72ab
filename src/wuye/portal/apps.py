from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "wuye.portal"
    label = "portal"
    verbose_name = "业主门户与在线支付"
