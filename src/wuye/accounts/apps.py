from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "wuye.accounts"
    label = "accounts"
    verbose_name = "账号与权限"

    def ready(self) -> None:
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from wuye.accounts import throttle  # noqa: F401  (the lock-out audit receiver)
        from wuye.accounts.models import Territory, User
        # a user's scope changed within a request: the request's memo of scopes is emptied (wuye.common.memo)
        m2m_changed.connect(_forget, sender=User.projects.through, dispatch_uid="memo-user-projects")
        post_save.connect(_forget, sender=Territory, dispatch_uid="memo-territory-save")
        post_delete.connect(_forget, sender=Territory, dispatch_uid="memo-territory-delete")


def _forget(**kwargs) -> None:
    from wuye.common.memo import forget

    forget()
