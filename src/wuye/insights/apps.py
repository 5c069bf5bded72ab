from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "wuye.insights"
    label = "insights"
    verbose_name = "经营分析"

    def ready(self) -> None:
        from wuye.insights import receivers  # hears common.changes (decision 177)

        receivers.connect_estate_changes()
