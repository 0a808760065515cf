from django.contrib import admin
from django.utils.html import format_html
from rest_framework_api_key.admin import APIKeyModelAdmin

from moderation.audit import describe
from moderation.blinding import BlindedAdminMixin
from moderation.models import (
    Account,
    ApiClient,
    ApiClientKey,
    AuditEvent,
    EarningsHold,
    Follow,
    Policy,
    Story,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """The platform mirror changes only through enforcement actions, never by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(BlindedAdminMixin, ReadOnlyAdmin):
    blind_paths = {"account": "pk"}
    list_display = ["handle", "display_name", "status", "partner_status", "follower_count", "joined_at"]
    list_filter = ["status", "partner_status"]
    search_fields = ["handle", "email", "platform_id", "display_name"]
    show_full_result_count = False


@admin.register(Story)
class StoryAdmin(BlindedAdminMixin, ReadOnlyAdmin):
    blind_paths = {"story": "pk"}
    list_display = ["title", "author", "kind", "is_paywalled", "distribution", "ai_disclosure", "is_removed"]
    list_filter = ["kind", "is_paywalled", "distribution", "ai_disclosure", "is_removed"]
    search_fields = ["title", "platform_id", "author__handle"]
    list_select_related = ["author"]
    raw_id_fields = ["author", "in_response_to"]
    show_full_result_count = False


@admin.register(Follow)
class FollowAdmin(BlindedAdminMixin, ReadOnlyAdmin):
    blind_paths = {"account": "follower"}
    list_display = ["follower", "followee", "is_active", "removed_at", "removed_by"]
    list_filter = ["is_active"]
    search_fields = ["follower__handle", "followee__handle", "removed_by"]
    list_select_related = ["follower", "followee"]
    show_full_result_count = False


@admin.register(EarningsHold)
class EarningsHoldAdmin(BlindedAdminMixin, ReadOnlyAdmin):
    blind_paths = {"account": "account"}
    list_display = ["account", "starts_at", "ends_at", "released_at", "placed_by"]
    list_select_related = ["account"]


@admin.register(Policy)
class PolicyAdmin(ReadOnlyAdmin):
    list_display = ["code", "version", "family", "title", "severity", "is_current"]
    list_filter = ["family", "severity", "is_current"]
    search_fields = ["code", "title"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only by construction: no add, change or delete, and no bulk actions."""

    list_display = ["id", "occurred_at", "actor_label", "verb", "target_link", "summary"]
    list_filter = ["verb", "target_type"]
    search_fields = ["actor_label", "target_label", "target_id", "reason"]
    date_hierarchy = "occurred_at"
    actions = None
    show_full_result_count = False

    @admin.display(description="Target")
    def target_link(self, event):
        return format_html("{} <code>{}</code>", event.target_type, event.target_id)

    @admin.display(description="What happened")
    def summary(self, event):
        return describe(event)


class ApiClientKeyInline(admin.TabularInline):
    model = ApiClientKey
    fields = ["name", "prefix", "created", "expiry_date", "revoked"]
    readonly_fields = ["name", "prefix", "created", "expiry_date", "revoked"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "allowed_sources", "is_active", "created_at"]
    inlines = [ApiClientKeyInline]


@admin.register(ApiClientKey)
class ApiClientKeyAdmin(APIKeyModelAdmin):
    list_display = [*APIKeyModelAdmin.list_display, "client"]
