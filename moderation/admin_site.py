"""The back-office's admin site: the product's home for every staff role."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class BackOfficeAdminSite(admin.AdminSite):
    site_header = "Trust & Safety back-office"
    site_title = "Trust & Safety"
    index_title = "Review queues"
    index_template = "admin/backoffice_index.html"
    site_url = None

    def index(self, request, extra_context=None):
        from moderation.dashboard import collect_panels

        extra_context = {**(extra_context or {}), "panels": collect_panels(request)}
        return super().index(request, extra_context)


class BackOfficeAdminConfig(AdminConfig):
    """Installs BackOfficeAdminSite as `admin.site`."""

    default_site = "moderation.admin_site.BackOfficeAdminSite"
