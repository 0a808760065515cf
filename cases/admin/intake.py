"""Admin for cases, signals, evidence, queues, routing rules and reporter standing.

Case data is read-only here: it changes only through services (signals, review,
notes). Queues and routing rules are data a supervisor edits; every save is audited.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from cases import permissions
from cases.blinding import BlindedCaseAdminMixin, hide_blinded, refuse_if_blinded
from cases.models import OPEN_CASE_STATUSES, Case, Evidence, Queue, ReporterStanding, RoutingRule, Signal
from cases.selectors import case_detail, case_list
from cases.services import intake
from cases.services.intake.inputs import READER_FAMILY


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NonBlankValuesFilter(admin.AllValuesFieldListFilter):
    """Like the stock filter, minus the blank value (human signals have no detector):
    a choice with no words is a link nobody can read."""

    def choices(self, changelist):
        for choice in super().choices(changelist):
            if choice["display"] not in ("", None):
                yield choice


class SlaBreachedFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [("breached", "Breached"), ("ok", "Within SLA")]

    def queryset(self, request, queryset):
        if self.value() == "breached":
            return queryset.filter(status__in=OPEN_CASE_STATUSES, sla_due_at__lt=timezone.now())
        if self.value() == "ok":
            return queryset.exclude(status__in=OPEN_CASE_STATUSES, sla_due_at__lt=timezone.now())
        return queryset


class PolicyFilter(admin.SimpleListFilter):
    """Policies by code, from the catalogue (a related filter would not follow related_name='+')."""

    title = "policy"
    parameter_name = "policy"

    def lookups(self, request, model_admin):
        from moderation.models import Policy

        return [(code, code) for code in Policy.objects.current().values_list("code", flat=True).order_by("code")]

    def queryset(self, request, queryset):
        return queryset.filter(policy__code=self.value()) if self.value() else queryset


class PolicyFamilyFilter(admin.SimpleListFilter):
    """Families from the policy catalogue (every version) plus the readers' family: the
    stock filter ran `SELECT DISTINCT policy_family` over every case on each load and
    drew one link per distinct value, so the list slowed down as cases piled up."""

    title = "policy family"
    parameter_name = "policy_family__exact"  # the stock filter's parameter: old links keep working

    def lookups(self, request, model_admin):
        from moderation.models import Policy

        families = set(Policy.objects.order_by().values_list("family", flat=True).distinct()) | {READER_FAMILY}
        return [(family, family) for family in sorted(families)]

    def queryset(self, request, queryset):
        return queryset.filter(policy_family=self.value()) if self.value() else queryset


class EvidenceForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Note")
    file = forms.FileField(required=False, help_text="PNG, JPEG, PDF or plain text, up to 5 MB.")

    def clean(self):
        data = super().clean()
        if not data.get("note") and not data.get("file"):
            raise ValidationError("Write a note or choose a file.")
        return data


@admin.register(Case)
class CaseAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "case_link",
        "subject",
        "policy_label",
        "queue",
        "status",
        "priority",
        "age",
        "sla",
        "automated_origin",
        "signal_count",
        "assignee",
    ]
    list_filter = ["queue", "status", PolicyFilter, "automated_origin", SlaBreachedFilter, PolicyFamilyFilter]
    list_display_links = None  # case_link is the link; a second one around it would nest links
    search_fields = ["account__handle", "account__email", "story__title"]
    ordering = ["-priority", "opened_at"]
    list_per_page = 50
    show_full_result_count = False
    change_form_template = "admin/cases/case/change_form.html"

    def get_queryset(self, request):
        return hide_blinded(case_list(), request.user)

    def has_view_permission(self, request, obj=None):
        if obj is not None:
            return permissions.can_view_case(request.user, obj)
        return permissions.api_client_of(request.user) is None and request.user.has_perm("cases.view_case")

    @admin.display(description="Case", ordering="id")
    def case_link(self, case):
        return format_html('<a href="{}">#{}</a>', reverse("admin:cases_case_change", args=[case.pk]), case.pk)

    @admin.display(description="Subject")
    def subject(self, case):
        if case.story_id:
            return format_html("@{}<br><small>{}</small>", case.account.handle, case.story.title or case.story)
        return f"@{case.account.handle}"

    @admin.display(description="Policy", ordering="policy__code")
    def policy_label(self, case):
        return case.policy.code if case.policy_id else case.policy_family

    @admin.display(description="Age", ordering="opened_at")
    def age(self, case):
        return timesince(case.opened_at).split(",")[0]

    @admin.display(description="SLA due", ordering="sla_due_at")
    def sla(self, case):
        if getattr(case, "sla_breached", False):
            return format_html('<span class="bo-badge breach">breached {} ago</span>', timesince(case.sla_due_at))
        if not case.is_open:
            return "—"
        return format_html('<span title="{}">in {}</span>', case.sla_due_at, timesince(timezone.now(), case.sla_due_at))

    def get_urls(self):
        urls = super().get_urls()
        extra = [
            path(
                "<int:case_id>/evidence/",
                self.admin_site.admin_view(self.add_evidence_view),
                name="cases_case_add_evidence",
            ),
        ]
        return extra + urls

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case = get_object_or_404(case_list(), pk=object_id)
        if request.method != "GET" or not permissions.can_view_case(request.user, case):
            raise PermissionDenied
        refuse_if_blinded(request.user, case.pk)
        detail = case_detail(case.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "case": detail,
            "title": str(detail),
            "evidence_form": EvidenceForm(),
            "can_add_evidence": permissions.can_add_evidence(request.user, detail),
            **(extra_context or {}),
        }
        return render(request, self.change_form_template, context)

    def add_evidence_view(self, request, case_id):
        case = get_object_or_404(Case, pk=case_id)
        if request.method != "POST" or not permissions.can_add_evidence(request.user, case):
            raise PermissionDenied
        refuse_if_blinded(request.user, case.pk)
        form = EvidenceForm(request.POST, request.FILES)
        target = reverse("admin:cases_case_change", args=[case.pk]) + "#evidence-timeline"
        if not form.is_valid():
            messages.error(request, " ".join(form.non_field_errors()) or "Check the note and file.")
            return redirect(target)
        try:
            if form.cleaned_data.get("file"):
                intake.add_evidence_file(
                    actor=request.user, case=case, upload=form.cleaned_data["file"], note=form.cleaned_data["note"]
                )
            else:
                intake.add_staff_note(actor=request.user, case=case, text=form.cleaned_data["note"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(target)
        messages.success(request, "Evidence added to the case.")
        return redirect(target)


@admin.register(Signal)
class SignalAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "received_at",
        "source",
        "account",
        "story",
        "reporter",
        "policy",
        "detector",
        "score",
        "case_link",
        "set_aside",
    ]
    list_filter = [
        "source",
        "set_aside",
        ("detector_name", NonBlankValuesFilter),
        ("detector_version", NonBlankValuesFilter),
    ]
    search_fields = ["account__handle", "reporter__handle", "story__title", "idempotency_key", "detector_name"]
    list_select_related = ["account", "story", "reporter", "policy", "client"]
    show_full_result_count = False

    @admin.display(description="Detector")
    def detector(self, signal):
        return f"{signal.detector_name} {signal.detector_version}" if signal.detector_name else "—"

    @admin.display(description="Case")
    def case_link(self, signal):
        if signal.case_id is None:
            return "pending" if not signal.set_aside else "set aside"
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:cases_case_change", args=[signal.case_id]), signal.case_id
        )


@admin.register(Evidence)
class EvidenceAdmin(BlindedCaseAdminMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Evidence is never edited or deleted; it is added from the case page."""

    list_display = ["created_at", "kind", "title", "case", "added_by", "content_hash"]
    list_filter = ["kind"]
    search_fields = ["title", "content_hash"]
    list_select_related = ["case__account", "added_by"]
    show_full_result_count = False


class RoutingRuleInline(admin.TabularInline):
    model = RoutingRule
    extra = 0
    fields = ["position", "policy_family", "policy_code", "source", "is_active"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "sla_hours", "allowed_roles", "is_escalation", "position"]
    inlines = [RoutingRuleInline]
    readonly_fields = ["slug"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        intake.save_queue(actor=request.user, queue=obj, changed=form.changed_data)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """Rules are switched off, never deleted, so old routing stays explainable."""

    list_display = ["position", "policy_family", "policy_code", "source", "queue", "is_active"]
    list_filter = ["queue", "is_active", "source"]
    list_select_related = ["queue"]
    ordering = ["position", "id"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        intake.save_routing_rule(actor=request.user, rule=obj, changed=form.changed_data)


class MuteForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Why (kept in the audit log)")


@admin.register(ReporterStanding)
class ReporterStandingAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["reporter", "upheld_count", "rejected_count", "reliability_label", "muted_at", "muted_by"]
    list_filter = [("muted_at", admin.EmptyFieldListFilter)]
    search_fields = ["reporter__handle", "reporter__platform_id"]
    list_select_related = ["reporter", "muted_by"]
    actions = ["mute_reporters"]
    show_full_result_count = False

    @admin.display(description="Reliability")
    def reliability_label(self, standing):
        return f"{standing.reliability:.2f}"

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not permissions.can_mute_reporter(request.user):
            actions.pop("mute_reporters", None)
        return actions

    @admin.action(description="Mute selected reporters (bad faith)")
    def mute_reporters(self, request, queryset):
        if not permissions.can_mute_reporter(request.user):
            raise PermissionDenied
        form = MuteForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            muted = 0
            for standing in queryset.select_related("reporter"):
                intake.mute_reporter(actor=request.user, reporter=standing.reporter, reason=form.cleaned_data["reason"])
                muted += 1
            self.message_user(request, f"Muted {muted} reporter(s); their pending reports were set aside.")
            return None
        return render(
            request,
            "admin/cases/reporterstanding/mute_confirm.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Mute reporters",
                "standings": queryset.select_related("reporter"),
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )
