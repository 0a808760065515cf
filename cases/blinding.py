"""Cases a person must not look at for now, and the plain reason why.

A blind second review (supervision's QA) only works if the second reviewer cannot read
the first decision elsewhere: the case page, its review and action pages, its
decisions, actions, notices and evidence in the admin, or its API record. `cases/`
knows nothing of QA, so the higher layer registers a check here (from its
AppConfig.ready) and every case-facing page asks `blind_reason` before showing a case.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet

BlindCheck = Callable[[object], dict[int, str]]
_checks: dict[str, BlindCheck] = {}


def register_blinding(name: str, check: BlindCheck) -> None:
    """`check(user)` returns {case id: why this user may not see it now}."""
    _checks[name] = check


def blinded_cases(user) -> dict[int, str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    found: dict[int, str] = {}
    for check in _checks.values():
        found.update(check(user))
    return found


def blind_reason(user, case_id: int | None) -> str | None:
    if case_id is None:
        return None
    return blinded_cases(user).get(int(case_id))


def refuse_if_blinded(user, case_id: int | None) -> None:
    """403 with the reason, for pages about one case."""
    reason = blind_reason(user, case_id)
    if reason:
        raise PermissionDenied(reason)


def hide_blinded(queryset: QuerySet, user, *, case_path: str = "pk") -> QuerySet:
    """Leave the user's blinded cases out of a listing (so a search cannot find them)."""
    ids = list(blinded_cases(user))
    return queryset.exclude(**{f"{case_path}__in": ids}) if ids else queryset


def blinded_view(view, *, case_of: Callable[[int], int | None] = lambda pk: pk):
    """Wrap a page that takes `pk` (a case, or via `case_of` a record of a case) so a
    blinded user gets the 403 with the reason instead."""

    @wraps(view)
    def inner(request, *args, **kwargs):
        refuse_if_blinded(request.user, case_of(kwargs["pk"]))
        return view(request, *args, **kwargs)

    return inner


class BlindedCaseAdminMixin:
    """For admin pages of records that belong to a case (decisions, actions, notices,
    evidence, outbox entries): the list leaves blinded cases out and the record's own
    page answers 403 with the reason."""

    blind_case_path = "case"

    def get_queryset(self, request):
        return hide_blinded(super().get_queryset(request), request.user, case_path=self.blind_case_path)

    def _refuse_blinded(self, request, object_id):
        ids = blinded_cases(request.user)
        if not ids or object_id is None:
            return
        try:
            rows = self.model._default_manager.filter(pk=object_id)
            case_id = rows.values_list(self.blind_case_path, flat=True).first()
        except (ValueError, ValidationError):
            return
        if case_id in ids:
            raise PermissionDenied(ids[case_id])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._refuse_blinded(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._refuse_blinded(request, object_id)
        return super().history_view(request, object_id, extra_context)
