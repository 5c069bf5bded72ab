"""WSGI entry point. Refuses to start with a missing or weak WUYE_SECRET_KEY outside debug/demo (wuye.E001)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuye.settings")
application = get_wsgi_application()

from wuye.common.checks import refuse_insecure_start  # noqa: E402  (needs the apps loaded)

refuse_insecure_start()
