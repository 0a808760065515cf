"""Finding the open case a signal joins, or opening one routed by the rules; and the
outcomes detectors propose on it."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q

from cases.models import OPEN_CASE_STATUSES, ActionStatus, Case, CaseStatus, EnforcementAction
from cases.routing import route
from moderation import setwise
from moderation.models import STORY_OUTCOMES, Account, Policy, SignalSource, Story
from moderation.rows import prepared_cursor, select

# What a chunk reads of an open case before it locks it: enough to find the case a signal
# joins, its place among the subject's cases, and whether it started automated.
READ_FIELDS = ("id", "account_id", "story_id", "policy_family", "status", "automated_origin", "opened_at")


def read_open_cases(subjects: set[tuple[int, int | None]], accounts: dict[str, Account]) -> dict[tuple, list[Case]]:
    """The open cases on the chunk's subjects, unlocked, oldest first per subject: a
    chunk builds and inserts its rows against them and locks the ones it joined only at
    its end (`lock_joined_cases`), so chunks on the same cases overlap their inserts.

    Each case gets its account from `accounts`; its story, queue and policy are the
    caller's to attach (the chunk holds them already): joined here they cost a Story,
    Queue and Policy instance per case, JSON fields decoded, for a handful of rows.
    Only READ_FIELDS are read: the lock brings LOCKED_FIELDS as they are then, and the
    stats are recounted (five timestamps a case, parsed in Python, were a tenth of a
    batch's Python time)."""
    by_pk = {a.pk: a for a in accounts.values()}
    if setwise.available():
        ordered = sorted(subjects, key=lambda s: (s[0], s[1] or 0))
        cases = select(
            Case,
            where=_OPEN_ON_SUBJECTS,
            params=[[a for a, _ in ordered], [s or 0 for _, s in ordered]],
            only=READ_FIELDS,
        )
    else:
        cases = on_subjects(Case.objects.filter(status__in=OPEN_CASE_STATUSES).only(*READ_FIELDS), subjects)
    found: dict[tuple, list[Case]] = {}
    for case in cases:
        case.account = by_pk[case.account_id]
        found.setdefault((case.account_id, case.story_id), []).append(case)
    for on_subject in found.values():
        on_subject.sort(key=lambda c: (c.opened_at, c.pk))
    return found


# An open case, in SQL: the statuses written out, so that the planner matches the partial
# open-case indexes whatever a prepared statement's parameters.
OPEN_SQL = "status IN ({})".format(", ".join(f"'{status.value}'" for status in OPEN_CASE_STATUSES))
# The open cases on a chunk's subjects: (account ids, story ids or 0) as two arrays.
_OPEN_ON_SUBJECTS = (
    f"{OPEN_SQL} AND (account_id, COALESCE(story_id, 0)) IN (SELECT * FROM unnest(%s::bigint[], %s::bigint[]))"  # noqa: S608 (no values)
)


# What a chunk takes from a joined case's row as it is when locked: what says whether the
# case still takes the chunk's signals, and what its stats and audit rows are made from.
LOCKED_FIELDS = ("status", "policy_family", "automated_origin", "policy_id", "queue_id", "sla_due_at")


def lock_joined_cases(ids: list[int]) -> dict[int, dict]:
    """The cases a chunk joined, locked in one statement in id order (the order every
    writer locks cases in): their LOCKED_FIELDS as they are now, by id. FOR NO KEY
    UPDATE: enough to serialise the stats of one case, and it does not wait for the KEY
    SHARE locks other chunks' foreign key checks take on the case while they insert."""
    if setwise.available():
        with prepared_cursor() as cursor:
            cursor.execute(_LOCK_JOINED_SQL, [ids])
            rows = cursor.fetchall()
    else:
        cases = Case.objects.select_for_update(no_key=True, of=("self",)).filter(id__in=ids)
        rows = cases.order_by("id").values_list("pk", *LOCKED_FIELDS)
    return {pk: dict(zip(LOCKED_FIELDS, values, strict=True)) for pk, *values in rows}


_LOCK_JOINED_SQL = (
    f"SELECT id, {', '.join(LOCKED_FIELDS)} FROM cases_case WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE"  # noqa: S608 (column names)
)


def on_subjects(cases, subjects) -> object:
    """Cases on any of the (account id, story id or None) subjects, by the ORM: for
    databases other than PostgreSQL, which reads them with one prepared statement
    (_OPEN_ON_SUBJECTS, read_open_cases)."""
    match = Q()
    for account_id, story_id in sorted(subjects, key=lambda s: (s[0], s[1] or 0)):
        match |= Q(account_id=account_id, story_id=story_id) if story_id else Q(account_id=account_id, story=None)
    return cases.filter(match)


def _open_case_on(account: Account, story: Story | None, *, family: str):
    return (
        Case.objects.select_for_update(of=("self",))
        .filter(account=account, story=story, status__in=OPEN_CASE_STATUSES, policy_family=family)
        .select_related("queue", "policy", "account")
        .order_by("opened_at", "id")
        .first()
    )


def open_or_join_case(
    *,
    account: Account,
    story: Story | None,
    policy_family: str,
    policy: Policy | None,
    source: str,
    now: datetime,
) -> tuple[Case, bool]:
    """The open case on (account, story, family), opening one routed by the rules if
    there is none. Returns (case, opened). Runs inside the caller's transaction; the
    caller writes the audit rows."""
    existing = _open_case_on(account, story, family=policy_family)
    if existing is not None:
        return existing, False
    queue = route(policy_family=policy_family, policy_code=policy.code if policy else "", source=source)
    return insert_case(
        account=account, story=story, policy_family=policy_family, policy=policy, source=source, queue=queue, now=now
    )


def new_case(*, account, story, policy_family, policy, source, queue, now) -> Case:
    """An open case routed to `queue`, validated, not yet saved."""
    case = Case(
        account=account,
        story=story,
        policy_family=policy_family,
        policy=policy,
        queue=queue,
        status=CaseStatus.OPEN,
        automated_origin=source == SignalSource.DETECTOR,
        opened_at=now,
        sla_due_at=now + queue.sla,
    )
    case.full_clean(exclude=["account", "story", "policy", "queue"], validate_unique=False, validate_constraints=False)
    return case


def insert_case(*, account, story, policy_family, policy, source, queue, now) -> tuple[Case, bool]:
    """Open a case; if another transaction opened one on the subject a moment ago
    (constraint case_one_open_per_subject_family), join that one instead."""
    case = new_case(
        account=account, story=story, policy_family=policy_family, policy=policy, source=source, queue=queue, now=now
    )
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError:
        existing = _open_case_on(account, story, family=policy_family)
        if existing is None:
            raise
        return existing, False
    return case, True


def propose_all(states: list) -> None:
    """A detector's proposed outcomes become proposals on the case (one per outcome
    still proposed); only a human decision (cases.services.review) turns them into
    approved actions. `states` are the chunk's touched cases with proposing signals."""
    if not states:
        return
    already: dict[int, set[str]] = {state.case.pk: set() for state in states}
    for case_id, outcome in EnforcementAction.objects.filter(
        case_id__in=list(already), status=ActionStatus.PROPOSED
    ).values_list("case_id", "outcome"):
        already[case_id].add(outcome)
    for state in states:
        for signal in state.proposing:
            for outcome in signal.proposed_outcomes:
                if outcome not in already[state.case.pk]:
                    state.proposals.append(_proposal(state.case, signal, outcome))
                    already[state.case.pk].add(outcome)


def _proposal(case: Case, signal, outcome: str) -> EnforcementAction:
    action = EnforcementAction(
        case=case,
        proposed_by_signal_id=signal.pk,
        outcome=outcome,
        account=case.account,
        story=case.story if outcome in STORY_OUTCOMES else None,
        status=ActionStatus.PROPOSED,
    )
    action.full_clean(exclude=["case", "account", "story", "proposed_by_signal"], validate_constraints=False)
    action.save()
    return action
