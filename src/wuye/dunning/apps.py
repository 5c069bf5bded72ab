from django.apps import AppConfig


class DunningConfig(AppConfig):
    name = "wuye.dunning"
    label = "dunning"
    verbose_name = "催缴"

    def ready(self) -> None:
        from django.db.models.signals import pre_save

        from wuye.dunning import receivers  # connects billing's signals
        from wuye.dunning.guardrails import guard_raw_save

        pre_save.connect(guard_raw_save, dispatch_uid="dunning.guard_raw_save")  # loaddata's raw saves

        receivers.connect_config_marks()
        receivers.connect_estate_marks()
