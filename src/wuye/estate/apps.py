from django.apps import AppConfig


class EstateConfig(AppConfig):
    name = "wuye.estate"
    label = "estate"
    verbose_name = "房产与业户"
