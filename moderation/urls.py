from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from moderation import demo_mail, oidc, staff_security, views

handler404 = "moderation.views.not_found"
handler500 = "moderation.middleware.faults.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/platform/", include("moderation.mirror.urls")),
    path("api/v1/", include("cases.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("appeal/", include("appeals.urls")),
    path("admin/supervision/", include("supervision.urls")),
    path("admin/django-rq/", include("moderation.rq_console")),
    path("admin/review/", include("cases.review_urls")),
    path("admin/2fa/", staff_security.two_factor, name="two_factor"),
    path("admin/demo/mail/", admin.site.admin_view(demo_mail.demo_mail), name="demo_mail"),
    path("admin/lockouts/", admin.site.admin_view(staff_security.lockouts), name="lockouts"),
    path("admin/", admin.site.urls),
    path("oidc/", include(oidc.urlpatterns)),
]
