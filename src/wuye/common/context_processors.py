from django.conf import settings


def site(request):
    return {"COMPANY_NAME": settings.COMPANY_NAME, "SITE_URL": settings.SITE_URL,
            "PAY_SANDBOX": getattr(settings, "WUYE_PAY_SANDBOX", False)}
