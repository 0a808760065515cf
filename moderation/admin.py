import json

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.utils.html import format_html
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from moderation import access, outbox
from moderation.audit import describe
from moderation.blinding import BlindedAdminMixin
from moderation.lease_state import LeaseStateFilter
from moderation.models import (
    Account,
    ApiClient,
    ApiClientKey,
    AuditEvent,
    BackgroundJob,
    EarningsHold,
    Follow,
    JobState,
    Policy,
    Story,
)
from moderation.personal_data import reveal_all


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
    list_filter = ["status", "partner_status", "language"]
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
    """A superuser's edit of the current version publishes version n+1 (audited);
    decisions keep pointing at the version they applied."""

    list_display = ["code", "version", "family", "title", "severity", "is_current"]
    list_filter = ["family", "severity", "is_current"]
    search_fields = ["code", "title"]
    readonly_fields = ["code", "version", "family", "is_current", "effective_from"]

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser and (obj is None or obj.is_current)

    def save_model(self, request, obj, form, change):
        access.publish_policy_version(actor=request.user, edited=obj)


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

    readonly_fields = ["before_revealed", "after_revealed"]

    @admin.display(description="Before (personal data revealed)")
    def before_revealed(self, event):
        return format_html("<code>{}</code>", json.dumps(reveal_all(event.before), default=str))

    @admin.display(description="After (personal data revealed)")
    def after_revealed(self, event):
        return format_html("<code>{}</code>", json.dumps(reveal_all(event.after), default=str))


class ApiClientKeyInline(admin.TabularInline):
    model = ApiClientKey
    fields = ["name", "prefix", "created", "expiry_date", "revoked"]
    readonly_fields = ["name", "prefix", "created", "expiry_date", "revoked"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class AuditedDeletesRefused:
    """Clients, keys and roles are switched off (revoked, deactivated), never deleted."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(ApiClient)
class ApiClientAdmin(AuditedDeletesRefused, admin.ModelAdmin):
    list_display = ["name", "user", "allowed_sources", "scopes", "is_active", "created_at"]
    inlines = [ApiClientKeyInline]

    def has_add_permission(self, request):
        return False  # created with its service user by `manage.py create_api_client`

    def save_model(self, request, obj, form, change):
        access.save_api_client(actor=request.user, client=obj, changed=form.changed_data)


@admin.register(ApiClientKey)
class ApiClientKeyAdmin(AuditedDeletesRefused, APIKeyModelAdmin):
    list_display = [*APIKeyModelAdmin.list_display, "client"]

    def save_model(self, request, obj, form=None, change=False):
        if not obj.pk:  # the library's keys start with an empty id
            key = access.issue_api_key(actor=request.user, key_row=obj)
            messages.warning(request, f"The API key for {obj.name} is: {key}. Store it now: it is never shown again.")
        else:
            access.save_api_key(actor=request.user, key_row=obj, changed=form.changed_data if form else ())


# The library's own APIKey model is unused (keys are ApiClientKey rows): no admin door to it.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


class AuditedGroupAdmin(AuditedDeletesRefused, GroupAdmin):
    def save_model(self, request, obj, form, change):
        access.save_group(actor=request.user, group=obj, changed=form.changed_data)

    def save_related(self, request, form, formsets, change):
        access.set_group_permissions(
            actor=request.user, group=form.instance, permissions=form.cleaned_data["permissions"]
        )
        super().save_related(request, form, formsets, change)


class AuditedUserAdmin(AuditedDeletesRefused, UserAdmin):
    def save_model(self, request, obj, form, change):
        access.save_staff_user(actor=request.user, user=obj, changed=form.changed_data)

    def save_related(self, request, form, formsets, change):
        if "groups" in form.cleaned_data or "user_permissions" in form.cleaned_data:
            access.assign_roles(
                actor=request.user,
                user=form.instance,
                groups=form.cleaned_data.get("groups", form.instance.groups.all()),
                permissions=form.cleaned_data.get("user_permissions", form.instance.user_permissions.all()),
            )
        super().save_related(request, form, formsets, change)


for _model, _admin in ((Group, AuditedGroupAdmin), (User, AuditedUserAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin)


# Second-factor devices hold their secrets: no admin page shows or edits them. Staff
# enrol at /admin/2fa/; a lost device is replaced with the backup codes.
for _device_model in ("otp_totp.TOTPDevice", "otp_static.StaticDevice"):
    _model = apps.get_model(_device_model)
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.action(description="Retry the selected jobs now")
def retry_jobs(modeladmin, request, queryset):
    retried = sum(outbox.retry(job=job, actor=request.user) for job in queryset.filter(done_at__isnull=True))
    messages.success(request, f"Sent {retried} job(s) back to the workers.")


@admin.register(BackgroundJob)
class BackgroundJobAdmin(ReadOnlyAdmin):
    """Every background job, from the outbox (moderation.outbox): a failed one is seen
    here (and counted on the supervisor's dashboard) and retried by hand. Its arguments
    are shown redacted (names; values only for ids), never searched or filtered on."""

    list_display = ["id", "call", "queue", "state_label", "attempts", "created_at", "next_attempt_at", "last_error"]
    list_filter = [LeaseStateFilter, "queue"]
    search_fields = ["func", "key"]
    exclude = ["args", "kwargs", "lease_token"]
    readonly_fields = ["call"]
    actions = [retry_jobs]
    show_full_result_count = False
    ordering = ["-id"]
    REDACTED = ("args", "kwargs", "lease_token")

    def lookup_allowed(self, lookup, value, request=None):
        """Django allows any lookup on a model's own fields from the URL
        (`?args__icontains=…`): that would answer yes/no about arguments it does not show."""
        if lookup.split("__", 1)[0] in self.REDACTED:
            return False
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description="Call")
    def call(self, obj):
        return outbox.describe_call(obj)

    @admin.display(description="State")
    def state_label(self, obj):
        return JobState(obj.state()).label
