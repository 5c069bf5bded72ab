from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "wuye.portal"
    label = "portal"
    verbose_name = "业主门户与在线支付"

    def ready(self):
        from wuye.portal import checks  # noqa: F401  (registers the sandbox check)
