from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from wuye.insights.views import disclosure_public

urlpatterns = [
    path("", include("wuye.accounts.urls")),
    path("estate/", include("wuye.estate.urls")),
    path("billing/", include("wuye.billing.urls")),
    path("collection/", include("wuye.dunning.urls")),
    path("casework/", include("wuye.casework.urls")),
    path("legal/", include("wuye.legal.urls")),
    path("insights/", include("wuye.insights.urls")),
    path("gongshi/<str:code>/<int:year>-Q<int:quarter>/", disclosure_public, name="disclosure-public"),
    path("p/", include("wuye.portal.urls")),
    path("portal-admin/", include("wuye.portal.staff_urls")),
    path("banking/", include("wuye.banking.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/", include("wuye.api_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]

if settings.DEBUG:  # pragma: no cover
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()

handler400 = "wuye.common.views.bad_request"
handler403 = "wuye.errors.forbidden"
handler404 = "wuye.errors.not_found"
handler500 = "wuye.errors.server_error"
