from django.apps import AppConfig


class BankingConfig(AppConfig):
    name = "wuye.banking"
    label = "banking"
    verbose_name = "银行对账与代扣"
