from django.apps import AppConfig


class DunningConfig(AppConfig):
    name = "wuye.dunning"
    label = "dunning"
    verbose_name = "催缴"

    def ready(self) -> None:
        from wuye.dunning import receivers  # noqa: F401  (connects billing's signals)
