"""Cases a person must not look at for now (see moderation/blinding.py): the case page,
its review and action pages, its records in the admin and its API record ask here.
Supervision registers the check (a reviewer holding the case's blind QA sample)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from moderation.blinding import BlindedAdminMixin, blinded_ids
from moderation.blinding import hide_blinded as _hide


def blind_reason(user, case_id: int | None) -> str | None:
    if case_id is None:
        return None
    return blinded_ids(user, "case").get(int(case_id))


def refuse_if_blinded(user, case_id: int | None) -> None:
    """403 with the reason, for pages about one case."""
    reason = blind_reason(user, case_id)
    if reason:
        raise PermissionDenied(reason)


def hide_blinded(queryset: QuerySet, user, *, case_path: str = "pk") -> QuerySet:
    return _hide(queryset, user, kind="case", path=case_path)


def blinded_view(view, *, case_of: Callable[[int], int | None] = lambda pk: pk):
    """Wrap a page that takes `pk` (a case, or via `case_of` a record of a case) so a
    blinded user gets the 403 with the reason instead."""

    @wraps(view)
    def inner(request, *args, **kwargs):
        refuse_if_blinded(request.user, case_of(kwargs["pk"]))
        return view(request, *args, **kwargs)

    return inner


class BlindedCaseAdminMixin(BlindedAdminMixin):
    """Admin of records that belong to a case (decisions, actions, notices, evidence)."""

    blind_paths = {"case": "case"}
