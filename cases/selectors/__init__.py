"""Read-side queries for cases: views, admin and API read through these so the
joins and prefetches live in one place."""

from cases.selectors.cases import (
    account_history,
    case_detail,
    case_list,
    cases_visible_to,
)

__all__ = [
    "account_history",
    "case_detail",
    "case_list",
    "cases_visible_to",
]
