"""Strikes in the admin: read-only (they change only through cases.services.strikes),
filterable by state, with the live/expired/voided counts above the list."""

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from cases.admin.review import ReadOnly
from cases.blinding import BlindedCaseAdminMixin
from cases.selectors.strikes import strike_counts
from cases.strikes import Strike


class StrikeStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", "Live"), ("expired", "Expired"), ("voided", "Voided")]

    def queryset(self, request, queryset):
        now = timezone.now()
        return {
            "live": queryset.filter(voided_at__isnull=True, expires_at__gt=now),
            "expired": queryset.filter(voided_at__isnull=True, expires_at__lte=now),
            "voided": queryset.filter(voided_at__isnull=False),
        }.get(self.value(), queryset)


@admin.register(Strike)
class StrikeAdmin(BlindedCaseAdminMixin, ReadOnly):
    list_display = ["id", "account", "policy", "severity", "case_link", "issued_at", "expires_at", "state"]
    list_filter = [StrikeStateFilter, "family", "severity"]
    search_fields = ["account__handle", "policy__code"]
    list_select_related = ["account", "policy"]
    date_hierarchy = "issued_at"
    show_full_result_count = False

    @admin.display(description="Case")
    def case_link(self, obj):
        return format_html('<a href="{}">#{}</a>', reverse("review:case", args=[obj.case_id]), obj.case_id)

    @admin.display(description="State")
    def state(self, obj):
        if obj.voided_at:
            return f"voided {obj.voided_at:%Y-%m-%d}: {obj.void_reason}"
        return "live" if obj.expires_at > timezone.now() else "expired"

    def changelist_view(self, request, extra_context=None):
        counts = strike_counts()
        return super().changelist_view(request, extra_context={**(extra_context or {}), "strike_counts": counts})
