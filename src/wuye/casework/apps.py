from django.apps import AppConfig


class CaseworkConfig(AppConfig):
    name = "wuye.casework"
    label = "casework"
    verbose_name = "收费员工作台"

    def ready(self) -> None:
        from wuye.casework import receivers  # noqa: F401  (connects billing's signals)
