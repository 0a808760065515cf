"""Admin for sampling rules and golden cases (through the services), and read-only
views of QA samples, recalls and chain checks. Access follows supervision.permissions."""

from django.contrib import admin

from supervision import permissions, services
from supervision.models import AuditChainCheck, DetectorRecall, GoldenCase, QASample, QASamplingRule, RetentionRule
from supervision.retention import save_retention_rule


class SupervisorAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return permissions.can_view_reports(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.can_view_reports(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SupervisorEditableAdmin(SupervisorAdmin):
    """Supervisors edit QA settings; every save goes through a service that audits it."""

    def has_add_permission(self, request):
        return permissions.can_settle_qa(request.user)

    def has_change_permission(self, request, obj=None):
        return permissions.can_settle_qa(request.user)


@admin.register(QASamplingRule)
class QASamplingRuleAdmin(SupervisorEditableAdmin):
    list_display = ["__str__", "queue", "policy_code", "share_percent", "is_active", "created_at"]
    list_filter = ["is_active"]
    fields = ["queue", "policy_code", "share_percent", "is_active"]

    def save_model(self, request, obj, form, change):
        services.save_sampling_rule(actor=request.user, rule=obj)


@admin.register(GoldenCase)
class GoldenCaseAdmin(SupervisorEditableAdmin):
    list_display = ["__str__", "expected_is_violation", "expected_policy", "is_active", "created_by", "created_at"]
    list_filter = ["is_active", "expected_is_violation"]
    raw_id_fields = ["case"]
    fields = ["case", "expected_is_violation", "expected_policy", "expected_outcomes", "note", "is_active"]
    list_select_related = ["expected_policy", "created_by"]

    def save_model(self, request, obj, form, change):
        services.save_golden_case(actor=request.user, golden=obj)


@admin.register(QASample)
class QASampleAdmin(SupervisorAdmin):
    list_display = ["__str__", "kind", "status", "original_reviewer", "qa_reviewer", "agrees", "created_at"]
    list_filter = ["status", "kind", "agrees"]
    list_select_related = ["original_reviewer", "qa_reviewer"]
    show_full_result_count = False


@admin.register(DetectorRecall)
class DetectorRecallAdmin(SupervisorAdmin):
    list_display = ["__str__", "mode", "status", "progress_done", "progress_total", "requested_by", "created_at"]
    list_filter = ["status", "mode"]
    list_select_related = ["requested_by"]


@admin.register(AuditChainCheck)
class AuditChainCheckAdmin(SupervisorAdmin):
    list_display = ["__str__", "checked_at", "checked_by", "events_checked", "broken_at"]
    list_select_related = ["checked_by"]


@admin.register(RetentionRule)
class RetentionRuleAdmin(SupervisorAdmin):
    """Supervisors change how long each kind is kept; the job reads these rows."""

    list_display = ["__str__", "keep_days_after_last_activity", "is_active", "updated_at"]
    fields = ["kind", "keep_days_after_last_activity", "is_active"]

    def get_readonly_fields(self, request, obj=None):
        return ["kind"] if obj else []

    def has_change_permission(self, request, obj=None):
        return permissions.can_edit_retention(request.user)

    def save_model(self, request, obj, form, change):
        save_retention_rule(actor=request.user, rule=obj)
