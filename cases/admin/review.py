"""Admin for decisions, enforcement actions, the outbox and notices: read-only records
(they change only through the review services), plus a retry for failed actions and
for failed or stuck outbox entries (applies and reversals)."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from cases import permissions
from cases.blinding import BlindedCaseAdminMixin
from cases.models import ActionStatus, Decision, EnforcementAction, LegalHold, Notice, OutboxEntry, OutboxState
from cases.services import enforcement
from moderation.lease_state import LeaseStateFilter


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _case_link(case_id):
    return format_html('<a href="{}">#{}</a>', reverse("review:case", args=[case_id]), case_id)


@admin.register(Decision)
class DecisionAdmin(BlindedCaseAdminMixin, ReadOnly):
    list_display = ["id", "case_link", "decided_by", "is_violation", "policy", "outcomes", "approval", "decided_at"]
    list_filter = ["is_violation", "needs_approval", "is_bulk"]
    search_fields = ["case__account__handle", "decided_by__username"]
    list_select_related = ["case", "decided_by", "approved_by", "rejected_by", "policy"]
    date_hierarchy = "decided_at"
    show_full_result_count = False

    @admin.display(description="Case")
    def case_link(self, obj):
        return _case_link(obj.case_id)

    @admin.display(description="Second approval")
    def approval(self, obj):
        if not obj.needs_approval:
            return "—"
        if obj.approved_by_id:
            return f"approved by {obj.approved_by.get_username()}"
        if obj.rejected_by_id:
            return f"not approved by {obj.rejected_by.get_username()}"
        return "waiting"


@admin.action(description="Retry the selected failed actions")
def retry_failed(modeladmin, request, queryset):
    if not permissions.can_retry_actions(request.user):
        messages.error(request, "Only senior moderators and supervisors may retry actions.")
        return
    retried = 0
    for action in queryset.filter(status=ActionStatus.FAILED):
        enforcement.retry_action(action=action, actor=request.user)
        retried += 1
    messages.success(request, f"Sent {retried} failed action(s) back through the outbox.")


@admin.register(EnforcementAction)
class EnforcementActionAdmin(BlindedCaseAdminMixin, ReadOnly):
    list_display = ["id", "outcome", "account", "story", "status", "case_link", "attempts", "last_error", "applied_at"]
    list_filter = ["status", "outcome"]
    search_fields = ["account__handle", "story__title"]
    list_select_related = ["account", "story"]
    actions = [retry_failed]
    show_full_result_count = False

    @admin.display(description="Case")
    def case_link(self, obj):
        return _case_link(obj.case_id)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not permissions.can_retry_actions(request.user):
            actions.pop("retry_failed", None)
        return actions


@admin.action(description="Retry the selected failed entries now")
def retry_entries(modeladmin, request, queryset):
    if not permissions.can_retry_actions(request.user):
        messages.error(request, "Only senior moderators and supervisors may retry actions.")
        return
    retried = 0
    for entry in queryset.filter(done_at__isnull=True).order_by("id"):
        if enforcement.retry_outbox_entry(entry=entry, actor=request.user) is not None:
            retried += 1
    messages.success(request, f"Sent {retried} entr{'y' if retried == 1 else 'ies'} back to the workers.")


@admin.register(OutboxEntry)
class OutboxEntryAdmin(BlindedCaseAdminMixin, ReadOnly):
    blind_paths = {"case": "action__case"}
    list_display = [
        "id",
        "action",
        "operation",
        "state_label",
        "attempts",
        "progress",
        "next_attempt_at",
        "done_at",
        "gave_up_at",
        "last_error",
    ]
    list_filter = [LeaseStateFilter, "operation"]
    list_select_related = ["action__account", "action__story"]
    actions = [retry_entries]
    show_full_result_count = False

    @admin.display(description="State")
    def state_label(self, obj):
        return OutboxState(obj.state()).label

    @admin.display(description="Progress")
    def progress(self, obj):
        if not obj.progress_total:
            return "—"
        return f"{obj.progress_done:,}/{obj.progress_total:,}"

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not permissions.can_retry_actions(request.user):
            actions.pop("retry_entries", None)
        return actions


@admin.register(Notice)
class NoticeAdmin(BlindedCaseAdminMixin, ReadOnly):
    list_display = ["id", "subject", "recipient_kind", "account", "case_link", "automated_detection", "sent_at"]
    list_filter = ["recipient_kind", "automated_detection"]
    search_fields = ["account__handle", "subject"]
    list_select_related = ["account"]
    show_full_result_count = False

    @admin.display(description="Case")
    def case_link(self, obj):
        return _case_link(obj.case_id)


@admin.register(LegalHold)
class LegalHoldAdmin(BlindedCaseAdminMixin, ReadOnly):
    """Holds are placed and lifted on the case page (cases.services.legal_hold); here they are listed."""

    list_display = ["id", "case_link", "is_active", "placed_by", "placed_at", "lifted_by", "lifted_at"]
    list_filter = [("lifted_at", admin.EmptyFieldListFilter)]
    list_select_related = ["placed_by", "lifted_by"]
    fields = ["case", "reason", "placed_by", "placed_at", "lifted_by", "lifted_at", "lift_reason"]
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="Case")
    def case_link(self, obj):
        return _case_link(obj.case_id)

    @admin.display(description="Standing", boolean=True)
    def is_active(self, obj):
        return obj.lifted_at is None
