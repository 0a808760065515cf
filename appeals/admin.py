"""The Appeals queue and the appeal page in the back-office. Thin: every change goes
through appeals.services, every rule through appeals.permissions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from appeals import permissions, selectors, services
from appeals.forms import DecisionForm
from appeals.models import OPEN_APPEAL_STATUSES, Appeal, AppealKind, AppealStatus, FollowerRestoration
from cases.selectors.review import restoration_progress
from moderation.claims import ClaimLost
from moderation.models import AuditEvent
from moderation.private_files import attachment_response


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("open", "Open (the queue)"), ("decided", "Decided"), ("all", "All")]

    def choices(self, changelist):
        value = self.value() or "open"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "open"
        if value == "open":
            return queryset.filter(status__in=OPEN_APPEAL_STATUSES)
        if value == "decided":
            return queryset.exclude(status__in=OPEN_APPEAL_STATUSES)
        return queryset


@admin.register(Appeal)
class AppealAdmin(admin.ModelAdmin):
    list_display = ["reference", "account", "kind", "status", "money", "submitted_at", "claim"]
    list_filter = [QueueFilter, "status", "kind", "money_at_stake"]
    search_fields = ["=id", "account__handle"]
    list_select_related = ["account", "assignee"]
    ordering = ["-money_at_stake", "submitted_at", "id"]
    show_full_result_count = False
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Appeal", ordering="id")
    def reference(self, obj):
        return f"A-{obj.pk:06d}"

    @admin.display(description="Money at stake", boolean=True, ordering="-money_at_stake")
    def money(self, obj):
        return obj.money_at_stake

    @admin.display(description="Claimed by")
    def claim(self, obj):
        return obj.assignee.get_username() if obj.assignee_id else "—"

    def get_urls(self):
        wrap = self.admin_site.admin_view

        def reviewers_only(view):
            """Claim buttons are the appeals reviewer's tool: 403 for other roles."""

            def gated(request, *args, **kwargs):
                if not permissions.can_review_appeals(request.user):
                    raise PermissionDenied
                return view(request, *args, **kwargs)

            return wrap(gated)

        return [
            path("claim-next/", reviewers_only(self.claim_next_view), name="appeals_appeal_claim_next"),
            path("<int:pk>/claim/", reviewers_only(self.claim_view), name="appeals_appeal_claim"),
            path("<int:pk>/release/", reviewers_only(self.release_view), name="appeals_appeal_release"),
            path("<int:pk>/renew/", reviewers_only(self.renew_view), name="appeals_appeal_renew"),
            path("<int:pk>/check-restoration/", wrap(self.check_view), name="appeals_appeal_check"),
            path("<int:pk>/files/<int:file_id>/", wrap(self.file_view), name="appeals_appeal_file"),
            *super().get_urls(),
        ]

    # --- claim buttons (POST only) ---------------------------------------------------

    def _review_url(self, pk):
        return reverse("admin:appeals_appeal_change", args=[pk])

    def claim_next_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            appeal = services.claim_next_appeal(user=request.user)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
            return redirect("admin:index")
        if appeal is None:
            messages.info(request, "No appeal is waiting that you may review.")
            return redirect("admin:appeals_appeal_changelist")
        return redirect(self._review_url(appeal.pk))

    def _post_on(self, request, pk, func, done: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        appeal = get_object_or_404(Appeal, pk=pk)
        try:
            func(appeal=appeal, user=request.user)
        except (PermissionDenied, ClaimLost) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, done)
        return redirect(self._review_url(pk))

    def claim_view(self, request, pk):
        return self._post_on(request, pk, services.claim_appeal, "You hold this appeal now.")

    def release_view(self, request, pk):
        return self._post_on(request, pk, services.release_appeal, "Appeal returned to the queue.")

    def renew_view(self, request, pk):
        return self._post_on(request, pk, services.renew_appeal_claim, "Claim renewed.")

    def check_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not permissions.can_view_appeals(request.user):
            raise PermissionDenied
        if services.record_restoration_if_finished(appeal_id=pk):
            messages.success(request, "Restoration complete; the writer has been told.")
        else:
            messages.info(request, "The restoration is still running.")
        return redirect(self._review_url(pk))

    def file_view(self, request, pk, file_id):
        if not permissions.can_view_appeals(request.user):
            raise PermissionDenied
        appeal = get_object_or_404(Appeal, pk=pk)
        item = appeal.files.filter(pk=file_id).first()
        if item is None:
            raise Http404
        return attachment_response(item.file, filename=item.original_name, content_type=item.content_type)

    # --- the appeal page -------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not permissions.can_view_appeals(request.user):
            raise PermissionDenied
        if request.method == "POST" and not permissions.can_review_appeals(request.user):
            raise PermissionDenied  # supervisors read appeals; only appeals reviewers decide them
        try:
            appeal = selectors.appeal_for_review(int(object_id))
        except (Appeal.DoesNotExist, ValueError):
            raise Http404
        action_choices, follower_choices = self._choices(appeal)
        form = DecisionForm(request.POST or None, action_choices=action_choices, follower_choices=follower_choices)
        plan = None
        if request.method == "POST" and form.is_valid():
            picks = {
                "outcome": form.cleaned_data["outcome"],
                "actions_to_reverse": form.cleaned_data["actions_to_reverse"],
                "followers_to_reinstate": form.cleaned_data["followers_to_reinstate"],
                "reverse_followers": form.cleaned_data["reverse_followers"],
            }
            confirmed = "confirm" in request.POST and form.cleaned_data["plan_fingerprint"]
            try:
                if not confirmed:
                    # Step one: show exactly what the decision will change, and apply nothing.
                    plan = services.plan_decision(appeal=appeal, **picks)
                else:
                    services.decide_appeal(
                        appeal=appeal,
                        actor=request.user,
                        statement=form.cleaned_data["statement"],
                        internal_note=form.cleaned_data["internal_note"],
                        plan_fingerprint=form.cleaned_data["plan_fingerprint"],
                        **picks,
                    )
            except PermissionDenied as exc:
                messages.error(request, str(exc))
                return redirect(self._review_url(appeal.pk))
            except services.PlanChanged as exc:
                form.add_error(None, exc.messages)
                plan = services.plan_decision(appeal=appeal, **picks)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                if confirmed:
                    messages.success(request, f"Appeal A-{appeal.pk:06d} decided; the writer has been emailed.")
                    return redirect(self._review_url(appeal.pk))
            if plan is not None:
                data = request.POST.copy()
                data["plan_fingerprint"] = plan.fingerprint
                errors = form.non_field_errors()
                form = DecisionForm(data, action_choices=action_choices, follower_choices=follower_choices)
                form.is_valid()
                for error in errors:
                    form.add_error(None, error)
        context = self._context(request, appeal, form)
        context["plan"] = plan
        return TemplateResponse(request, "admin/appeals/appeal_review.html", context)

    def _choices(self, appeal):
        if appeal.status not in OPEN_APPEAL_STATUSES:
            return [], []
        if appeal.kind == AppealKind.ACTION:
            return [(a.pk, f"#{a.pk} {a.get_outcome_display()}") for a in selectors.reversible_actions(appeal)], []
        return [], [(r.pk, f"@{r.follower.handle}") for r in appeal.follower_reviews.select_related("follower")]

    def _context(self, request, appeal, form):
        from cases.selectors import case_detail

        case = case_detail(appeal.action.case_id) if appeal.action_id else None
        decided = appeal.status not in OPEN_APPEAL_STATUSES
        progress = []
        if decided and appeal.restored_summary.get("reversed_action_ids"):
            from cases.models import EnforcementAction

            for action in (
                EnforcementAction.objects.filter(pk__in=appeal.restored_summary["reversed_action_ids"])
                .select_related("account")
                .prefetch_related("outbox")
                .order_by("id")
            ):
                progress.append(
                    {"action": action, "restores": selectors.restores_in_words(action), **restoration_progress(action)}
                )
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Appeal A-{appeal.pk:06d}",
            "appeal": appeal,
            "case": case,
            "decision": appeal.action.decision if appeal.action_id else None,
            "purge_decisions": selectors.purge_decisions(appeal) if appeal.kind == AppealKind.FOLLOWERS else [],
            "reversible": selectors.reversible_actions(appeal) if not decided else [],
            "followers": selectors.follower_evidence(appeal) if appeal.kind == AppealKind.FOLLOWERS else [],
            "files": list(appeal.files.all()),
            "form": form,
            "decided": decided,
            "conflicted": permissions.is_conflicted(request.user, appeal),
            "can_claim": permissions.can_claim(request.user, appeal) and appeal.assignee_id != request.user.pk,
            "can_decide": permissions.can_decide(request.user, appeal),
            "holds_claim": appeal.assignee_id == request.user.pk and not decided,
            "progress": progress,
            "restorations": list(appeal.restorations.select_related("follower")) if decided else [],
            "writer_status": selectors.writer_status(appeal),
            "events": AuditEvent.objects.filter(appeal_ref=appeal.pk).order_by("id"),
            "statuses": AppealStatus,
        }


@admin.register(FollowerRestoration)
class FollowerRestorationAdmin(admin.ModelAdmin):
    """Read-only: follower appeals' edge restorations, to spot one that is stuck."""

    list_display = ["pk", "appeal", "follower", "followee", "status", "progress_done", "attempts", "last_error"]
    list_filter = ["status"]
    list_select_related = ["appeal", "follower", "followee"]
    search_fields = ["=appeal__id", "follower__handle", "followee__handle"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return permissions.can_view_appeals(request.user)
