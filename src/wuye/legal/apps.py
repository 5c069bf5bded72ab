from django.apps import AppConfig


class LegalConfig(AppConfig):
    name = "wuye.legal"
    label = "legal"
    verbose_name = "法务"
