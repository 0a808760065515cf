"""The queue page: a queue's waiting cases to scan, sort, filter, preview and claim
from the list (keyboard: j/k, Enter, p). Thin views over cases.selectors.queues and
cases.services.review.claim_case."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil
from django.views.decorators.http import require_POST

from cases import decision_flow, permissions
from cases.models import Case, Queue
from cases.queue_filters import SORTS, QueueCaseFilter
from cases.selectors.queues import queue_cases, queue_detectors, with_previews
from cases.services import review

PAGE_SIZE = 50


def _workable_queue(request, slug: str) -> Queue:
    queue = get_object_or_404(Queue, slug=slug)
    if not permissions.can_work_queue(request.user, queue):
        raise PermissionDenied(f"Your role may not work the {queue.name} queue.")
    return queue


def queue_page(request, slug: str):
    queue = _workable_queue(request, slug)
    now = timezone.now()
    filters = QueueCaseFilter(
        request.GET or None, queryset=queue_cases(queue=queue, now=now), detectors=queue_detectors(queue), now=now
    )
    status = 200 if filters.is_valid() or not request.GET else 400
    qs = filters.qs if filters.is_valid() else queue_cases(queue=queue, now=now)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    cases = with_previews(list(page.object_list))
    for case in cases:
        case.policy_label = case.policy.code.replace(".", ".\u200b") if case.policy else ""
        case.age_text = timesince(case.opened_at, now, depth=1)
        case.sla_text = (
            timesince(case.sla_due_at, now, depth=1) if case.sla_breached else timeuntil(case.sla_due_at, now, depth=1)
        )
    params = request.GET.copy()
    params.pop("page", None)
    params.pop("previous", None)
    context = {
        "sort_links": _sort_links(params, request.GET.get("sort", "")),
        **_admin_context(request, f"{queue.name}: waiting cases"),
        "queue": queue,
        "filters": filters,
        "page": page,
        "cases": cases,
        "now": now,
        "query": params.urlencode(),
        "user_id": request.user.pk,
        "previous": decision_flow.previous_case(request),
    }
    return render(request, "admin/cases/review/queue.html", context, status=status)


@require_POST
def claim_from_list(request, slug: str, pk: int):
    """Claim one named case of the list; if someone was faster, say who and stay on the list."""
    queue = _workable_queue(request, slug)
    case = get_object_or_404(Case, pk=pk, queue=queue)
    try:
        review.claim_case(user=request.user, case=case)
    except (review.ReviewError, PermissionDenied) as exc:
        messages.error(request, str(exc))
        back = QueryDict(request.POST.get("back", "")).urlencode()
        return redirect(reverse("review:queue", args=[queue.slug]) + (f"?{back}" if back else ""))
    return redirect("review:case", pk=case.pk)


FIRST_CLICK = {"age": "age", "sla": "sla"}  # oldest first, most urgent first; others: most first
INVERTED = {"age"}  # sorting by opened_at ascending is sorting by age descending


def _sort_links(params, current: str) -> dict:
    """For each sortable column header: the link that sorts by it (the useful way
    first, then the other way) and its aria-sort state."""
    links = {}
    for _field, name in SORTS:
        first = FIRST_CLICK.get(name, f"-{name}")
        other = first[1:] if first.startswith("-") else f"-{first}"
        query = params.copy()
        query["sort"] = other if current == first else first
        state = "none"
        if current in (name, f"-{name}"):
            descending = current.startswith("-") != (name in INVERTED)
            state = "descending" if descending else "ascending"
        links[name] = {"query": query.urlencode(), "state": state}
    return links


def _admin_context(request, title: str) -> dict:
    from django.contrib import admin

    return {**admin.site.each_context(request), "title": title}
