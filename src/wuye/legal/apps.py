from django.apps import AppConfig


class LegalConfig(AppConfig):
    name = "wuye.legal"
    label = "legal"
    verbose_name = "法务"

    def ready(self):
        from django.db.models.signals import pre_save

        from wuye.legal.models import DocumentTemplate, template_raw_save

        pre_save.connect(template_raw_save, sender=DocumentTemplate, dispatch_uid="legal-template-raw-save")
