"""Root URL configuration."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from movierec.mongo import register_pk_converter

register_pk_converter()  # <pk:…> matches ids on SQL and ObjectIds on MongoDB

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path(settings.ADMIN_URL, admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("api/", include("movierec.api_urls")),
    path("", include("recommendations.urls")),
    path("", include("catalog.urls")),
]

handler400 = "movierec.api_errors.bad_request"
handler500 = "movierec.api_errors.server_error"
