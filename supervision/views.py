"""Supervisor pages (and the reviewers' blind QA page) inside the admin. Thin: read
through selectors, change through services, check with supervision.permissions."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from functools import wraps

from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from moderation.audit import describe
from moderation.audit_heads import head_sink
from moderation.audit_sequencer import integration_status
from moderation.claims import ClaimLost, held_by
from moderation.db_router import reading_reports
from moderation.models import Outcome
from supervision import permissions, recall_plans, selectors, services
from supervision.filters import AuditEventFilter, DecisionFilter
from supervision.forms import PeriodForm, QAReviewForm, RecallConfirmForm, RecallPlanForm, SettleForm
from supervision.models import AuditChainCheck, DetectorRecall, GoldenCase, QASample, QASamplingRule, RecallStatus

PAGE_SIZE = 50


def staff_page(check: Callable = permissions.can_view_reports):
    """Admin login for anyone not signed in; 403 for staff without the permission."""

    def decorator(view):
        @wraps(view)
        def inner(request, *args, **kwargs):
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return admin.site.admin_view(inner)

    return decorator


def _render(request, template: str, context: dict, *, title: str, status: int = 200) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {**admin.site.each_context(request), "title": title, "nav": _nav(request.user), **context},
        status=status,
    )


def _nav(user) -> list[tuple[str, str]]:
    if not permissions.can_view_reports(user):
        return []
    return [
        ("Measures", reverse("supervision:dashboard")),
        ("Decisions", reverse("supervision:decisions")),
        ("Audit log", reverse("supervision:audit")),
        ("QA", reverse("supervision:qa")),
        ("Detector recall", reverse("supervision:recall")),
        ("Transparency report", reverse("supervision:transparency")),
    ]


# --- measures -----------------------------------------------------------------------------


@staff_page()
def dashboard(request):
    form = PeriodForm(request.GET)
    period = form.period()
    with reading_reports():
        split = selectors.rollup_split(period=period)
        queues = selectors.queue_measures(period=period, split=split)
        detectors = selectors.detector_measures(period=period, split=split)
        reviewers = selectors.reviewer_measures(period=period)
        policies = selectors.policy_measures(period=period, split=split)
        automation = selectors.automation_shares(period=period, split=split)
    context = {
        "form": form,
        "period": period,
        "queues": queues,
        "max_backlog": max([q["backlog"] for q in queues] + [q["inflow"] for q in queues] + [1]),
        "reviewers": reviewers,
        "policies": policies,
        "detectors": detectors,
        "automation": automation,
        "rollup": split,
        "low_precision": selectors.LOW_PRECISION,
        "weeks": [w.date() for w in period.weeks()],
        "audit_chain": integration_status(),
        "can_download_heads": permissions.can_verify_chain(request.user),
    }
    return _render(request, "admin/supervision/dashboard.html", context, title="Measures")


@staff_page()
def detector_detail(request, name: str, version: str):
    form = PeriodForm(request.GET)
    period = form.period()
    measures = next(
        (d for d in selectors.detector_measures(period=period) if d["name"] == name and d["version"] == version), None
    )
    cases = selectors.detector_cases(name=name, version=version)
    if measures is None and not cases.exists():
        return _render(
            request,
            "admin/supervision/detector.html",
            {"name": name, "version": version, "missing": True},
            title=f"{name} {version}",
            status=404,
        )
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    return _render(
        request,
        "admin/supervision/detector.html",
        {
            "name": name,
            "version": version,
            "form": form,
            "period": period,
            "m": measures,
            "page": page,
            "low_precision": selectors.LOW_PRECISION,
            "can_recall": permissions.can_recall_detector(request.user),
        },
        title=f"Detector {name} {version}",
    )


# --- audit log ----------------------------------------------------------------------------


def _target_url(event, cache: dict) -> str | None:
    key = event.target_type
    if key not in cache:
        cache[key] = None
        try:
            model = apps.get_model(key)
        except (LookupError, ValueError):
            model = None
        if model is not None and admin.site.is_registered(model):
            cache[key] = f"admin:{model._meta.app_label}_{model._meta.model_name}_change"
    if cache[key] is None:
        return None
    try:
        return reverse(cache[key], args=[event.target_id])
    except NoReverseMatch:
        return None


@staff_page()
def audit_log(request):
    filterset = AuditEventFilter(request.GET or None, queryset=selectors.audit_events())
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    cache: dict = {}
    rows = [{"event": e, "text": describe(e), "url": _target_url(e, cache)} for e in page.object_list]
    return _render(
        request,
        "admin/supervision/audit_log.html",
        {
            "filter": filterset,
            "page": page,
            "rows": rows,
            "checks": AuditChainCheck.objects.select_related("checked_by")[:5],
            "can_verify": permissions.can_verify_chain(request.user),
            "audit_chain": integration_status(),
            "query": _query_without_page(request),
        },
        title="Audit log",
    )


@require_POST
@staff_page(permissions.can_verify_chain)
def audit_verify(request):
    check = services.check_audit_chain(actor=request.user)
    if check.intact:
        messages.success(request, check.report.summary())
    else:
        messages.error(request, check.report.summary())
    return redirect("supervision:audit")


@staff_page(permissions.can_verify_chain)
def audit_heads(request):
    """Every signed head published so far, one JSON line each, to keep outside the back-office."""
    response = StreamingHttpResponse(head_sink().lines(), content_type="application/x-ndjson")
    response["Content-Disposition"] = 'attachment; filename="audit-heads.jsonl"'
    return response


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# --- decision explorer ----------------------------------------------------------------------


@staff_page()
def decisions(request):
    filterset = DecisionFilter(request.GET or None, queryset=selectors.decisions_for_explorer())
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return _render(
        request,
        "admin/supervision/decisions.html",
        {
            "filter": filterset,
            "page": page,
            "outcome_labels": dict(Outcome.choices),
            "query": _query_without_page(request),
        },
        title="Decision explorer",
    )


class _Echo:
    def write(self, value):
        return value


EXPORT_COLUMNS = [
    "decision_id",
    "decided_at",
    "case_id",
    "queue",
    "account",
    "story",
    "policy",
    "policy_version",
    "is_violation",
    "outcomes",
    "reviewer",
    "approver",
    "automated_origin",
    "detector_involved",
    "appeal_status",
    "bulk",
]


def _export_rows(queryset) -> Iterator[list]:
    yield EXPORT_COLUMNS
    for d in queryset.iterator(chunk_size=1000):
        yield [
            d.pk,
            d.decided_at.isoformat(),
            d.case_id,
            d.case.queue.slug,
            d.case.account.handle,
            d.case.story.platform_id if d.case.story_id else "",
            d.policy.code if d.policy_id else "",
            d.policy.version if d.policy_id else "",
            "yes" if d.is_violation else "no",
            " ".join(d.outcomes or []),
            d.decided_by.get_username(),
            d.approved_by.get_username() if d.approved_by_id else "",
            "yes" if d.case.automated_origin else "no",
            "yes" if d.detector_involved else "no",
            d.appeal_status or "",
            "yes" if d.is_bulk else "no",
        ]


@staff_page()
def decisions_export(request):
    filterset = DecisionFilter(request.GET or None, queryset=selectors.decisions_for_explorer())
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _export_rows(filterset.qs)), content_type="text/csv"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="decisions-{stamp}.csv"'
    return response


# --- QA -------------------------------------------------------------------------------------


@staff_page()
def qa_overview(request):
    return _render(
        request,
        "admin/supervision/qa.html",
        {
            "counts": selectors.qa_counts(),
            "disagreements": selectors.qa_disagreements(),
            "rules": QASamplingRule.objects.select_related("queue"),
            "goldens": GoldenCase.objects.select_related("case__account", "expected_policy")[:20],
            "can_settle": permissions.can_settle_qa(request.user),
        },
        title="Quality assurance",
    )


@staff_page(permissions.can_settle_qa)
def qa_settle(request, pk: int):
    sample = get_object_or_404(
        QASample.objects.select_related(
            "case__account",
            "case__story",
            "decision__policy",
            "decision__decided_by",
            "golden__expected_policy",
            "qa_reviewer",
            "qa_policy",
            "settled_by",
        ),
        pk=pk,
    )
    form = SettleForm(request.POST or None)
    if request.method == "POST" and sample.status == "disagreed" and form.is_valid():
        try:
            services.settle_qa_disagreement(
                sample=sample,
                actor=request.user,
                settlement=form.cleaned_data["settlement"],
                note=form.cleaned_data["note"],
                requeue=form.cleaned_data["requeue"],
            )
        except (ValidationError, services.RequeueRefused) as exc:
            form.add_error(None, "; ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(request, f"QA #{sample.pk} settled.")
            return redirect("supervision:qa")
    first_is_violation, first_policy, first_outcomes = services._answer(sample)
    labels = dict(Outcome.choices)
    return _render(
        request,
        "admin/supervision/qa_settle.html",
        {
            "sample": sample,
            "form": form,
            "first": {
                "is_violation": first_is_violation,
                "policy": first_policy,
                "outcomes": [labels.get(o, o) for o in first_outcomes],
            },
            "second_outcomes": [labels.get(o, o) for o in sample.qa_outcomes],
        },
        title=f"Settle QA #{sample.pk}",
    )


@require_POST
@staff_page(permissions.can_qa_review)
def qa_next(request):
    sample = services.claim_next_qa_sample(user=request.user)
    if sample is None:
        messages.info(request, "No QA sample is waiting for you.")
        return redirect("admin:index")
    return redirect("supervision:qa_review", pk=sample.pk)


@staff_page(permissions.can_qa_review)
def qa_review(request, pk: int):
    sample = get_object_or_404(QASample.objects.select_related("case", "decision"), pk=pk)
    if not permissions.can_qa_review_sample(request.user, sample):
        raise PermissionDenied
    now = timezone.now()
    if sample.status != "pending" or not QASample.objects.filter(held_by(request.user, now), pk=pk).exists():
        messages.warning(request, "This QA sample is not yours to review (already reviewed, or your claim ran out).")
        return redirect("admin:index")
    form = QAReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.submit_qa_review(
                sample=sample,
                user=request.user,
                is_violation=form.cleaned_data["is_violation"],
                policy=form.cleaned_data["policy"],
                outcomes=form.cleaned_data["outcomes"],
                note=form.cleaned_data["note"],
            )
        except (ValidationError, ClaimLost) as exc:
            form.add_error(None, "; ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(request, "Thank you: your second decision is recorded.")
            return redirect("admin:index")
    return _render(
        request,
        "admin/supervision/qa_review.html",
        {"sample": sample, "form": form, **selectors.qa_blind_material(sample)},
        title=f"Blind second review #{sample.pk}",
    )


# --- detector recall ---------------------------------------------------------------------------


@staff_page(permissions.can_recall_detector)
def recall_index(request):
    return _render(
        request,
        "admin/supervision/recall_index.html",
        {
            "versions": selectors.detector_versions(),
            "recalls": DetectorRecall.objects.exclude(status=RecallStatus.DRAFT).select_related("requested_by")[:20],
            "drafts": DetectorRecall.objects.filter(status=RecallStatus.DRAFT, requested_by=request.user),
        },
        title="Detector recall",
    )


@staff_page(permissions.can_recall_detector)
def recall_detector(request, name: str, version: str):
    """The dry run: every case and action the version touched, page by page, with what
    reviewers, appeals and QA said since. Changes nothing; the form starts a draft plan."""
    form = RecallPlanForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            recall = services.draft_detector_recall(
                actor=request.user,
                name=name,
                version=version,
                mode=form.cleaned_data["mode"],
                selection=form.cleaned_data["selection"],
            )
            return redirect("supervision:recall_plan", pk=recall.pk)
        status = 400
    page, rows = recall_plans.recall_page(name=name, version=version, page=request.GET.get("page"))
    return _render(
        request,
        "admin/supervision/recall_detector.html",
        {
            "name": name,
            "version": version,
            "listing": selectors.recall_listing(name=name, version=version),
            "form": form,
            "page": page,
            "rows": rows,
        },
        title=f"Recall {name} {version}",
        status=status,
    )


@staff_page(permissions.can_recall_detector)
def recall_plan(request, pk: int):
    """The supervisor's draft: the same pages with checkboxes kept server-side, and the
    confirmation that freezes exactly what the plan lists."""
    recall = get_object_or_404(DetectorRecall, pk=pk)
    if recall.status != RecallStatus.DRAFT:
        return redirect("supervision:recall_status", pk=recall.pk)
    if recall.requested_by_id != request.user.pk:
        raise PermissionDenied
    page_number = request.POST.get("page") or request.GET.get("page")
    confirm = RecallConfirmForm(None, mode=recall.mode)
    status = 200
    if request.method == "POST" and request.POST.get("op") == "pick":
        services.pick_recall_targets(
            recall=recall,
            actor=request.user,
            shown_ids=_ints(request.POST.getlist("shown")),
            picked_ids=_ints(request.POST.getlist("pick")),
        )
        messages.success(request, "Selection on this page saved.")
        goto = request.POST.get("goto") or page_number or 1
        return redirect(f"{reverse('supervision:recall_plan', args=[recall.pk])}?page={goto}")
    if request.method == "POST" and request.POST.get("op") == "confirm":
        confirm = RecallConfirmForm(request.POST, mode=recall.mode)
        status = 400
        if confirm.is_valid():
            try:
                services.confirm_detector_recall(
                    recall=recall,
                    actor=request.user,
                    reason=confirm.cleaned_data["reason"],
                    writer_statement=confirm.cleaned_data.get("writer_statement", ""),
                    fingerprint=confirm.cleaned_data["fingerprint"],
                )
            except services.RecallListingChanged as exc:
                confirm.add_error(None, str(exc))
                status = 409
            except ValidationError as exc:
                confirm.add_error(None, "; ".join(exc.messages))
            else:
                messages.success(request, f"Recall of {recall.detector_name} {recall.detector_version} started.")
                return redirect("supervision:recall_status", pk=recall.pk)
    recall.refresh_from_db()
    targets = recall_plans.plan_targets(recall)
    if confirm.is_bound:
        confirm = _refingerprint(confirm, targets.fingerprint)
    else:
        confirm = RecallConfirmForm(None, mode=recall.mode, initial={"fingerprint": targets.fingerprint})
    page, rows = recall_plans.recall_page(name=recall.detector_name, version=recall.detector_version, page=page_number)
    return _render(
        request,
        "admin/supervision/recall_plan.html",
        {
            "recall": recall,
            "picked": set(recall.picked_ids),
            "targets": targets,
            "confirm": confirm,
            "page": page,
            "rows": rows,
            "reverse": recall.mode == "reverse",
        },
        title=f"Plan: recall {recall.detector_name} {recall.detector_version}",
        status=status,
    )


def _refingerprint(form: RecallConfirmForm, fingerprint: str) -> RecallConfirmForm:
    """Keep the supervisor's words and errors, but offer the plan as it stands now."""
    data = form.data.copy()
    data["fingerprint"] = fingerprint
    data.pop("confirm", None)
    errors = form.errors.copy()
    fresh = RecallConfirmForm(data, mode=form.mode)
    fresh.is_valid()
    fresh._errors = errors
    return fresh


def _ints(values) -> list[int]:
    return [int(v) for v in values if str(v).isdigit()]


@staff_page(permissions.can_recall_detector)
def recall_status(request, pk: int):
    recall = get_object_or_404(DetectorRecall.objects.select_related("requested_by"), pk=pk)
    if recall.status == RecallStatus.DRAFT:
        return redirect("supervision:recall_plan", pk=recall.pk)
    return _render(
        request,
        "admin/supervision/recall_status.html",
        {
            "recall": recall,
            "running": recall.status in (RecallStatus.QUEUED, RecallStatus.RUNNING),
            "can_resume": recall.status in (RecallStatus.QUEUED, RecallStatus.RUNNING, RecallStatus.FAILED),
        },
        title=str(recall),
    )


@require_POST
@staff_page(permissions.can_recall_detector)
def recall_resume(request, pk: int):
    recall = get_object_or_404(DetectorRecall, pk=pk)
    try:
        services.resume_detector_recall(recall=recall, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Recall resumed: it carries on from the last finished batch.")
    return redirect("supervision:recall_status", pk=recall.pk)


# --- transparency report --------------------------------------------------------------------------


@staff_page()
def transparency(request, fmt: str = "html"):
    form = PeriodForm(request.GET, default_days=90)
    if form.is_bound and not form.is_valid():
        return _render(
            request, "admin/supervision/transparency.html", {"form": form}, title="Transparency report", status=400
        )
    period = form.period()
    with reading_reports():
        report = selectors.transparency_report(period=period)
    start, end = form.dates()
    name = f"transparency-{start.isoformat()}-{end.isoformat()}"
    if fmt == "json":
        response = HttpResponse(json.dumps(report, cls=DjangoJSONEncoder, indent=2), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return response
    if fmt == "csv":
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        writer = csv.writer(response)
        writer.writerow(["section", "key", "detail", "value"])
        writer.writerows(selectors.transparency_rows(report))
        return response
    query = request.GET.urlencode()
    return _render(
        request,
        "admin/supervision/transparency.html",
        {"form": form, "report": report, "start": start, "end": end, "query": query},
        title="Transparency report",
    )
