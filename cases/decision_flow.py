"""The keyboard decision loop around the review page: every error in one answer, the
canned rationales of each policy, and after a decision straight on to the next case
of the same queue (the decided one a step back)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.urls import reverse

from cases.models import CannedRationale, Case
from cases.services import review

MARK_MISSING = "Mark this detector right or wrong."


def place_errors(form, exc: ValidationError) -> None:
    """Put each of the service's errors on its own field; a missing detector mark goes
    on that detector's radios. A field the form already faulted keeps its own message."""
    for name, errs in exc.message_dict.items():
        if name == "detector_marks":
            for _signal, field in form.detector_fields:
                if not form.data.get(field) and not form.has_error(field):
                    form.add_error(field, MARK_MISSING)
            continue
        if name in form.fields and form.has_error(name):
            continue
        for err in errs:
            form.add_error(name if name in form.fields else None, err)


def add_service_errors(form, case: Case) -> None:
    """A form that did not validate still goes past the service's rules, so the
    moderator hears every missing piece at once, each on its own field."""
    data = form.decision_input()
    if "is_violation" not in getattr(form, "cleaned_data", {}):
        data.is_violation = False
    try:
        review.validate_decision(case, data)
    except ValidationError as exc:
        place_errors(form, exc)


def canned_rationales(policies) -> dict[str, list[dict]]:
    """The active canned rationales of the listed policies, by policy id (the form's values)."""
    ids_by_code: dict[str, list[str]] = {}
    for p in policies:
        ids_by_code.setdefault(p.code, []).append(str(p.pk))
    out: dict[str, list[dict]] = {}
    for item in CannedRationale.objects.filter(active=True, policy_code__in=ids_by_code):
        for pk in ids_by_code[item.policy_code]:
            out.setdefault(pk, []).append({"id": item.pk, "title": item.title, "text": item.text})
    return out


def after_decision(request, case: Case):
    """Claim the next case of the same queue for the moderator and open it; when the
    queue is empty, back to the queue's list. Either way the decided case is one step back."""
    try:
        nxt = review.claim_next_case(user=request.user, queue=case.queue)
    except PermissionDenied:
        nxt = None
    if nxt is None:
        messages.info(request, f"Nothing else waits in {case.queue.name}.")
        return redirect(f"{reverse('review:queue', args=[case.queue.slug])}?previous={case.pk}")
    return redirect(f"{reverse('review:case', args=[nxt.pk])}?previous={case.pk}")


def previous_case(request) -> int | None:
    value = request.GET.get("previous", "")
    return int(value) if value.isdigit() and len(value) < 12 else None
