from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "wuye.common"
    label = "common"
    verbose_name = "通用"

    def ready(self):
        from django.db.backends.signals import connection_created
        from django.db.models import Field, ForeignObject

        from wuye.common import checks  # noqa: F401  (registers wuye.E001)
        from wuye.common.lookups import InIds
        from wuye.common.sqlite import ensure_wal

        Field.register_lookup(InIds)
        ForeignObject.register_lookup(InIds)  # relations keep their own lookup table
        connection_created.connect(ensure_wal, dispatch_uid="wuye-sqlite-wal")
