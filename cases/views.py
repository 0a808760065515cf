"""Admin-side review pages: thin views over cases.services.review. Mounted under
/admin/review/ and wrapped with admin.site.admin_view (staff login, CSRF)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from cases import decision_flow, permissions
from cases.forms import AssignForm, BulkDecisionForm, DecisionForm, ReasonForm, RejectForm
from cases.models import Case, Decision, Evidence, EvidenceKind, Queue
from cases.selectors.cases import case_detail
from cases.selectors.queues import queue_by_slug
from cases.selectors.review import (
    actions_for_case,
    bulk_candidates,
    case_decisions,
    decisions_awaiting_approval,
    policy_choices,
    restoration_progress,
)
from cases.selectors.strikes import case_strikes_panel
from cases.services import review
from cases.services.enforcement import HumanGateViolation
from moderation import claims
from moderation.models import Policy
from moderation.private_files import attachment_response
from moderation.roles import Role

REVIEWER_ROLES = (Role.MODERATOR, Role.SENIOR_MODERATOR)


def _admin_context(request, title: str) -> dict:
    from django.contrib import admin

    return {**admin.site.each_context(request), "title": title}


@require_POST
def review_next(request, slug: str):
    queue = queue_by_slug(slug)
    if queue is None:
        raise Http404("No such queue.")
    try:
        case = review.claim_next_case(user=request.user, queue=queue)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect("admin:index")
    if case is None:
        messages.info(request, f"Nothing waits in {queue.name}. Well done.")
        return redirect("admin:index")
    return redirect("review:case", pk=case.pk)


@require_POST
def claim(request, pk: int):
    case = get_object_or_404(Case, pk=pk)
    try:
        review.claim_case(user=request.user, case=case)
    except (review.ReviewError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    return redirect("review:case", pk=pk)


def _policy_catalogue(case: Case, policies, signals) -> dict:
    return {
        str(p.pk): {
            "code": p.code,
            "allowed": list(p.allowed_outcomes),
            "default": list(p.default_outcomes),
            "statement": review.render_statement(p.statement_template, case, p, signals=signals),
        }
        for p in policies
    }


def case_review(request, pk: int):
    try:
        case = case_detail(pk)
    except Case.DoesNotExist:
        raise Http404("No such case.")
    if not request.user.has_perm("cases.view_case"):
        raise PermissionDenied
    signals = [s for s in case.signal_list if s.source == "detector"]
    policies = policy_choices(case)
    holds_claim = (
        case.assignee_id == request.user.pk and case.claim_expires_at and case.claim_expires_at > timezone.now()
    )
    counted = review.statement_signals(case)  # read once for every statement preview on the page
    initial = {}
    if case.policy_id:
        initial = {
            "is_violation": "yes",
            "policy": case.policy_id,
            "outcomes": list(case.policy.default_outcomes),
            "statement": review.render_statement(case.policy.statement_template, case, case.policy, signals=counted),
        }
    form = DecisionForm(
        request.POST if request.method == "POST" else None, initial=initial, detector_signals=signals, policies=policies
    )
    status = 200
    if request.method == "POST":
        if not holds_claim:
            messages.error(request, "You no longer hold this case: claim it again before deciding.")
            status = 409
        if form.is_valid():
            data = form.decision_input()
            try:
                decision = review.decide_case(
                    case=case, user=request.user, data=data, handling_seconds=form.cleaned_data["handling_seconds"]
                )
            except ValidationError as exc:
                decision_flow.place_errors(form, exc)
                status = 400
            except review.CaseAlreadyDecided as exc:
                messages.error(request, str(exc))
                return redirect("review:case", pk=pk)
            except (review.ReviewError, PermissionDenied, HumanGateViolation) as exc:
                messages.error(request, str(exc))
                status = 409
            else:
                if decision.needs_approval:
                    messages.warning(
                        request,
                        f"Case #{pk} decided. It waits for a senior moderator's approval before anything changes.",
                    )
                else:
                    messages.success(request, f"Case #{pk} decided.")
                return decision_flow.after_decision(request, case)
        else:
            decision_flow.add_service_errors(form, case)
            status = 400
    decisions = case_decisions(case)
    actions = actions_for_case(case)
    context = {
        **_admin_context(request, f"Case #{case.pk}"),
        "case": case,
        "form": form,
        "holds_claim": holds_claim,
        "can_decide": holds_claim and permissions.can_decide(request.user, case),
        "can_claim": case.is_open and permissions.can_decide(request.user, case) and not holds_claim,
        "can_assign": permissions.can_assign(request.user) and case.is_open,
        "assign_form": AssignForm(reviewers=_reviewers()) if permissions.can_assign(request.user) else None,
        "reason_form": ReasonForm(),
        "decisions": decisions,
        "actions": [(a, restoration_progress(a)) for a in actions],
        "catalogue": _policy_catalogue(case, policies, counted),
        "lease_seconds": int(review.lease().total_seconds()),
        "strikes": case_strikes_panel(case),
        "four_eyes": review.four_eyes_reasons(case, case.policy, case.policy.default_outcomes) if case.policy else [],
        "canned": decision_flow.canned_rationales(policies),
        "previous": decision_flow.previous_case(request),
    }
    return render(request, "admin/cases/review/case.html", context, status=status)


def _reviewers():
    return (
        get_user_model().objects.filter(is_active=True, groups__name__in=REVIEWER_ROLES).distinct().order_by("username")
    )


@require_POST
def renew(request, pk: int):
    case = get_object_or_404(Case, pk=pk)
    try:
        review.renew_case_claim(user=request.user, case=case)
    except claims.ClaimLost as exc:
        return JsonResponse({"ok": False, "error": str(exc)}, status=409)
    return JsonResponse({"ok": True, "expires_at": case.claim_expires_at.isoformat()})


@require_POST
def release(request, pk: int):
    case = get_object_or_404(Case, pk=pk)
    try:
        review.release_case(user=request.user, case=case)
    except claims.ClaimLost as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"Case #{pk} is back in {case.queue.name}.")
    return redirect("admin:index")


def _with_reason(request, pk: int, service, done: str):
    case = get_object_or_404(Case, pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason.")
        return redirect("review:case", pk=pk)
    try:
        service(user=request.user, case=case, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("review:case", pk=pk)
    except (claims.ClaimLost, review.ReviewError, PermissionDenied) as exc:
        messages.error(request, str(exc))
        return redirect("review:case", pk=pk)
    messages.info(request, done.format(pk=pk, queue=case.queue.name))
    return redirect("admin:index")


@require_POST
def skip(request, pk: int):
    return _with_reason(request, pk, review.skip_case, "Skipped case #{pk}; it went back to {queue}.")


@require_POST
def escalate(request, pk: int):
    return _with_reason(request, pk, review.escalate_case, "Case #{pk} escalated to {queue}.")


@require_POST
def assign(request, pk: int):
    case = get_object_or_404(Case, pk=pk)
    form = AssignForm(request.POST, reviewers=_reviewers())
    if not form.is_valid():
        messages.error(request, "Choose a reviewer.")
        return redirect("review:case", pk=pk)
    try:
        review.assign_case(case=case, assignee=form.cleaned_data["assignee"], by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Case #{pk} assigned to {form.cleaned_data['assignee'].get_username()}.")
    return redirect("review:case", pk=pk)


def approvals(request):
    from cases.selectors.approvals import approval_cards

    if not request.user.has_perm("cases.approve_severe"):
        raise PermissionDenied
    context = {
        **_admin_context(request, "Decisions awaiting your approval"),
        "rows": approval_cards(approver=request.user),
        "reject_form": RejectForm(),
    }
    return render(request, "admin/cases/review/approvals.html", context)


@require_POST
def approve(request, pk: int):
    decision = get_object_or_404(Decision, pk=pk)
    try:
        review.approve_decision(decision=decision, approver=request.user)
    except (review.ReviewError, PermissionDenied, HumanGateViolation) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Approved the decision on case #{decision.case_id}; its actions are being applied.")
    return redirect("review:approvals")


@require_POST
def approve_many(request):
    """Step one shows what each selected decision will do; step two (confirm) approves
    each one through the single approval service, so each is audited and checked."""
    from cases.selectors.approvals import approval_previews
    from cases.services.approvals import approve_decisions

    if not request.user.has_perm("cases.approve_severe"):
        raise PermissionDenied
    waiting = decisions_awaiting_approval()
    if request.POST.get("all"):
        chosen = [d for d in waiting if d.decided_by_id != request.user.pk]
    else:
        ids = {int(i) for i in request.POST.getlist("decision") if i.isdigit()}
        chosen = [d for d in waiting if d.pk in ids]
    if not chosen:
        messages.error(request, "Select at least one decision to approve.")
        return redirect("review:approvals")
    if not request.POST.get("confirm"):
        context = {
            **_admin_context(request, f"Approve {len(chosen)} decision(s)?"),
            "previews": approval_previews(chosen, approver=request.user),
        }
        return render(request, "admin/cases/review/approve_many.html", context)
    result = approve_decisions(decisions=chosen, approver=request.user)
    if result.approved:
        messages.success(
            request, f"Approved {len(result.approved)} decision(s); their actions are being applied and notices sent."
        )
    for _, why in result.refused:
        messages.error(request, why)
    return redirect("review:approvals")


@require_POST
def reject(request, pk: int):
    decision = get_object_or_404(Decision, pk=pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why you do not approve.")
        return redirect("review:approvals")
    try:
        review.reject_decision(decision=decision, approver=request.user, note=form.cleaned_data["note"])
    except (review.ReviewError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"Case #{decision.case_id} went back to its queue for a new decision.")
    return redirect("review:approvals")


def bulk(request):
    if not request.user.has_perm("cases.review_case"):
        raise PermissionDenied
    queue = Queue.objects.filter(slug=request.GET.get("queue", "")).first()
    family = request.GET.get("family", "")
    search = request.GET.get("q", "")
    candidates = bulk_candidates(user=request.user, queue=queue, family=family, search=search)
    form = BulkDecisionForm(request.POST if request.method == "POST" else None)
    status = 200
    result = None
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("case") if i.isdigit()]
        chosen = [c for c in candidates if c.pk in ids]
        if not chosen:
            form.add_error(None, "Select at least one case.")
            status = 400
        elif form.is_valid():
            data = form.cleaned_data
            result = review.bulk_decide(
                cases=chosen,
                user=request.user,
                is_violation=data["is_violation"],
                policy=data["policy"],
                outcomes=data["outcomes"],
                rationale=data["rationale"],
                statement_template=data["statement"],
                detectors_correct=data["detectors_correct"],
                hold_days=data.get("hold_days") or 30,
            )
            waiting = sum(1 for d in result.decisions if d.needs_approval)
            if result.decisions:
                messages.success(
                    request,
                    f"Decided {len(result.decisions)} case(s)"
                    + (f"; {waiting} wait for a senior moderator's approval." if waiting else "."),
                )
            for case_id, why in result.skipped:
                messages.error(request, f"Case #{case_id} not decided: {why}")
            if not result.skipped:
                return redirect(request.get_full_path())
            candidates = bulk_candidates(user=request.user, queue=queue, family=family, search=search)
        else:
            status = 400
    context = {
        **_admin_context(request, "Decide cases together"),
        "candidates": candidates,
        "form": form,
        "queues": [q for q in Queue.objects.all() if permissions.can_work_queue(request.user, q)],
        "queue": queue,
        "family": family,
        "search": search,
        "selected": {int(i) for i in request.POST.getlist("case") or request.GET.getlist("case") if i.isdigit()},
        "families": sorted(set(Policy.objects.current().values_list("family", flat=True))),
    }
    return render(request, "admin/cases/review/bulk.html", context, status=status)


def evidence_file(request, pk):
    """An evidence file, to staff who may view its case, as a download."""
    evidence = get_object_or_404(Evidence.objects.select_related("case"), pk=pk, kind=EvidenceKind.FILE)
    if not permissions.can_view_case(request.user, evidence.case) or not evidence.file:
        raise PermissionDenied
    return attachment_response(
        evidence.file,
        filename=evidence.data.get("name") or "evidence",
        content_type=evidence.data.get("content_type") or "application/octet-stream",
    )
