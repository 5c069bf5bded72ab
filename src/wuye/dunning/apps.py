from django.apps import AppConfig


class DunningConfig(AppConfig):
    name = "wuye.dunning"
    label = "dunning"
    verbose_name = "催缴"

    def ready(self) -> None:
        from wuye.dunning import receivers  # connects billing's signals

        receivers.connect_config_marks()
        receivers.connect_estate_marks()
