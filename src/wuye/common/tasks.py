"""Huey autodiscovers ``<app>.tasks``; the one schedule lives in ``wuye.tasks``."""

from wuye.tasks import *  # noqa: F401,F403
