"""Review next as one PostgreSQL statement (issue 16).

Twenty reviewers in one process share the GIL. The ORM claim (two locking reads, one
UPDATE and two audit INSERTs, each compiled from a queryset, plus BEGIN and COMMIT) cost
about 5 ms of Python and seven round trips a claim, so a team's claims queued behind
each other's Python. Here the same claim is data-modifying CTEs of one statement whose
text is built once and which each connection prepares once: a claim is one round trip
and about 0.5 ms of Python (its parameters, and the Case built from the returned
columns).

- own: the reviewer's live lease in the queue, if any: pressing "Review next" twice
  gives the same case back, renewed (moderation.claims.claim_next's rule);
- pick: otherwise the first claimable case in review order (the partial index
  case_claim_order_idx supplies it), less what the reviewer skipped in the last hour,
  by audit_skip_list_idx ('case.skipped' is recorded on cases only, so no target type
  is named: the target index served it whenever statistics taken before the case
  events called them rare, 11 ms a claim on the full data set),
  FOR UPDATE SKIP LOCKED;
- moved: the lease, and the status to `to` when the transition table allows the move
  from the row's status (the allowed sources come from moderation.transitions); a row
  whose status does not allow it is not touched, and the caller hears
  TransitionNotAllowed;
- events, queued: claim.taken (claim.renewed for an own lease) and, when the status
  moves, case.review_started, with the columns and payloads record_event writes, and
  their entries in the sequencer's queue (AuditPending).

The statement is a transaction by itself: outside a caller's transaction it needs no
BEGIN/COMMIT. SQLite keeps the ORM claim (cases.services.review.claim_next_case_orm),
which tests/cases/test_claim_statement.py holds this one to, audit row for audit row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache

from django.utils import timezone

from cases.models import Case
from moderation import audit, rows
from moderation.models import Account, AuditEvent, AuditPending
from moderation.transitions import check_move, sources

VERBS = ("claim.taken", "claim.renewed", "case.review_started")

# DjangoJSONEncoder's text of an aware datetime (moderation.audit.json_text), in SQL: UTC,
# milliseconds (truncated) unless the microseconds are zero, "Z".
_ISO_TIME = (
    "to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
    "date_part('microseconds', {t} AT TIME ZONE 'UTC')::bigint %% 1000000 = 0 THEN '' "
    "ELSE to_char({t} AT TIME ZONE 'UTC', '.MS') END || 'Z'"
)


@cache
def _statement(claimable: tuple[str, ...]) -> str:
    """The claim's SQL, built once per set of claimable statuses. They are written into
    the text, not bound: only a literal list lets the planner match the partial index
    case_claim_order_idx (its condition is the same list)."""
    for verb in VERBS:
        if verb not in audit.VERBS:
            raise ValueError(f"Unregistered audit verb {verb!r}")
    statuses = ", ".join("'" + status.replace("'", "''") + "'" for status in claimable)
    columns = rows.columns(Case, "c")
    expires_before = _ISO_TIME.format(t="t.claim_expires_at")
    case, account = Case._meta.db_table, Account._meta.db_table
    events, pending = AuditEvent._meta.db_table, AuditPending._meta.db_table
    order = "ORDER BY priority DESC, opened_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
    # Table and column names come from the models, the statuses from the code.
    return f"""
WITH skipped AS (
    SELECT target_id::bigint AS id FROM {events}
    WHERE verb = 'case.skipped' AND actor_id = %(user)s AND occurred_at >= %(skip_since)s
), own AS (
    SELECT id, status, assignee_id, claim_expires_at, TRUE AS renewal FROM {case}
    WHERE queue_id = %(queue)s AND status IN ({statuses}) AND assignee_id = %(user)s
      AND claim_expires_at > %(now)s AND id NOT IN (SELECT id FROM skipped)
    {order}
), pick AS (
    SELECT id, status, assignee_id, claim_expires_at, FALSE AS renewal FROM {case}
    WHERE NOT EXISTS (SELECT FROM own) AND queue_id = %(queue)s AND status IN ({statuses})
      AND (assignee_id IS NULL OR claim_expires_at <= %(now)s) AND id NOT IN (SELECT id FROM skipped)
    {order}
), target AS (
    SELECT * FROM own UNION ALL SELECT * FROM pick
), moved AS (
    UPDATE {case} AS c SET assignee_id = %(user)s, claim_expires_at = %(expires)s, updated_at = %(stamp)s,
        status = CASE WHEN t.status = ANY(%(sources)s) THEN %(to)s ELSE c.status END
    FROM target AS t
    WHERE c.id = t.id AND (t.status = %(to)s OR t.status = ANY(%(sources)s))
    RETURNING {columns}
), events AS (
    INSERT INTO {events} ({audit.EVENT_COLUMNS})
    SELECT %(stamp)s, %(user)s, %(label)s, e.verb, 'cases.case', m.id::text,
        left('Case #' || m.id || ' · @' || (SELECT a.handle FROM {account} AS a WHERE a.id = m.account_id)
             || ' · ' || m.policy_family, 200),
        m.id, NULL, e.before, e.after, e.reason
    FROM moved AS m JOIN target AS t ON t.id = m.id
    CROSS JOIN LATERAL (VALUES
        (1,
         CASE WHEN t.renewal THEN 'claim.renewed' ELSE 'claim.taken' END,
         CASE WHEN t.renewal THEN '{{}}'::jsonb ELSE jsonb_build_object(
             'assignee', t.assignee_id,
             'claim_expires_at', CASE WHEN t.claim_expires_at IS NULL THEN NULL ELSE {expires_before} END) END,
         CASE WHEN t.renewal THEN %(renewed_after)s::jsonb ELSE %(taken_after)s::jsonb END,
         CASE WHEN NOT t.renewal AND t.assignee_id IS NOT NULL THEN 'previous lease expired' ELSE '' END),
        (2, 'case.review_started', jsonb_build_object('status', t.status), %(started_after)s::jsonb, '')
    ) AS e (n, verb, before, after, reason)
    WHERE e.n = 1 OR t.status <> %(to)s
    ORDER BY e.n
    RETURNING id
), queued AS (
    INSERT INTO {pending} (event_id) SELECT id FROM events
)
SELECT t.status, m.* FROM target AS t LEFT JOIN moved AS m ON m.id = t.id
"""  # noqa: S608


def statement(
    *,
    user,
    queue_id: int,
    claimable: tuple[str, ...],
    to: str,
    allowed: Mapping[str, set[str] | frozenset[str]],
    lease: timedelta,
    now: datetime,
    skip_memory: timedelta,
) -> tuple[str, dict]:
    """The claim's SQL and its parameters (claim_next runs them; tests EXPLAIN them)."""
    expires = now + lease
    return _statement(claimable), {
        "user": user.pk,
        "label": audit.actor_label_for(user),
        "queue": queue_id,
        "now": now,
        "skip_since": now - skip_memory,
        "expires": expires,
        "stamp": timezone.now(),
        "to": to,
        "sources": sources(allowed, to),
        "taken_after": audit.json_text({"assignee": user.pk, "claim_expires_at": expires}),
        "renewed_after": audit.json_text({"claim_expires_at": expires}),
        "started_after": audit.json_text({"status": to}),
    }


def claim_next(
    *,
    user,
    queue_id: int,
    claimable: tuple[str, ...],
    to: str,
    allowed: Mapping[str, set[str] | frozenset[str]],
    lease: timedelta,
    now: datetime,
    skip_memory: timedelta,
) -> Case | None:
    """Lease the reviewer's next case of the queue and start its review, in one statement
    (see the module's docstring). None when nothing is claimable. The Case comes from
    the statement's returned columns (its account is not loaded)."""
    sql, params = statement(
        user=user,
        queue_id=queue_id,
        claimable=claimable,
        to=to,
        allowed=allowed,
        lease=lease,
        now=now,
        skip_memory=skip_memory,
    )
    with rows.prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    status_before, values = row[0], row[1:]
    if values[0] is None:
        check_move(Case, status_before, to, allowed)
    audit.integrate_after_commit()
    return rows.instance(Case, values)
