"""Records a person must not look at for now, and the plain reason why.

A blind second review (supervision's QA) only works if the second reviewer cannot read
the outcome elsewhere: the case and its records, or the account and story as they are
today (a story off the paywall, a suspended account). The lower layers know nothing of
QA, so a higher layer registers a check here from its AppConfig.ready, and every page
showing one of these records asks before showing it.

A check takes a user and returns {(kind, id): reason} with kind "case", "account" or
"story".
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet

Subject = tuple[str, int]
BlindCheck = Callable[[object], dict[Subject, str]]
_checks: dict[str, BlindCheck] = {}


def register_blinding(name: str, check: BlindCheck) -> None:
    _checks[name] = check


def blinded(user) -> dict[Subject, str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    found: dict[Subject, str] = {}
    for check in _checks.values():
        found.update(check(user))
    return found


def blinded_ids(user, kind: str) -> dict[int, str]:
    return {pk: reason for (k, pk), reason in blinded(user).items() if k == kind}


def hide_blinded(queryset: QuerySet, user, *, kind: str, path: str = "pk") -> QuerySet:
    """Leave the user's blinded records out of a listing (so a search cannot find them)."""
    ids = list(blinded_ids(user, kind))
    return queryset.exclude(**{f"{path}__in": ids}) if ids else queryset


class BlindedAdminMixin:
    """For admin pages of blinded kinds of records: lists leave them out and their own
    pages answer 403 with the reason. `blind_paths` maps a kind to the field path that
    leads from this model to it, e.g. {"case": "case"} or {"account": "pk"}."""

    blind_paths: dict[str, str] = {}

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        for kind, path in self.blind_paths.items():
            qs = hide_blinded(qs, request.user, kind=kind, path=path)
        return qs

    def _refuse_blinded(self, request, object_id) -> None:
        found = blinded(request.user)
        if not found or object_id is None:
            return
        try:
            row = self.model._default_manager.filter(pk=object_id).values(*self.blind_paths.values()).first()
        except (ValueError, ValidationError):
            return
        for kind, path in self.blind_paths.items():
            reason = found.get((kind, row[path])) if row else None
            if reason:
                raise PermissionDenied(reason)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._refuse_blinded(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._refuse_blinded(request, object_id)
        return super().history_view(request, object_id, extra_context)
