from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "wuye.accounts"
    label = "accounts"
    verbose_name = "账号与权限"

    def ready(self) -> None:
        from wuye.accounts import throttle  # noqa: F401  (the lock-out audit receiver)
