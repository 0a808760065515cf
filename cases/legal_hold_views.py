"""Placing and lifting a legal hold from the case page (templates/admin/cases/review/_legal_hold.html)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from cases.models import Case
from cases.services.legal_hold import HoldRefused, lift_legal_hold, place_legal_hold


def _hold_view(service, field: str, done: str):
    @require_POST
    def view(request, pk: int):
        case = get_object_or_404(Case, pk=pk)
        try:
            service(actor=request.user, case=case, reason=request.POST.get(field, ""))
        except HoldRefused as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, done.format(pk=pk))
        return redirect("review:case", pk=pk)

    return view


place = _hold_view(place_legal_hold, "reason", "Case #{pk} is on legal hold: retention deletes nothing of it.")
lift = _hold_view(lift_legal_hold, "lift_reason", "Legal hold on case #{pk} lifted.")
