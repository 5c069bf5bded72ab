from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "wuye.billing"
    label = "billing"
    verbose_name = "账单与收款"
