from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "wuye.insights"
    label = "insights"
    verbose_name = "经营分析"
