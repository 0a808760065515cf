"""Retention: evidence, content snapshots, appeal files and writers' personal data are
kept through the appeal window plus each kind's `RetentionRule` period after the last
decision or appeal on them, then deleted by `run_retention` (a daily job,
supervision/cron.py). Finished background work (jobs, outbox entries) is a kind too,
kept its rule's days after it finished (supervision.pruning, reported and audited
apart: `pruned`, `retention.pruned`). What stays: the case,
its decisions and statements of reasons, the actions, the notices' text and the whole
audit trail; what goes: evidence bodies, data and files, snapshot text, appeal files,
the emails on notices and appeals, the writer's statement on an appeal, and the
writer's key (moderation.personal_data), which leaves personal data sealed in audit
rows unreadable while their hashes still verify.

A case under a legal hold (cases.LegalHold), or with an open appeal, keeps everything.
Each case purged of a kind writes one `retention.purged` row naming the kind and the
counts, never the data. The job is idempotent: a second run finds nothing to purge.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import DateTimeField, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

import supervision.audit_verbs  # noqa: F401  (registers the verbs used below)
from appeals.models import OPEN_APPEAL_STATUSES, Appeal, AppealFile
from cases.models import OPEN_CASE_STATUSES, Case, Decision, Evidence, EvidenceKind, LegalHold, Notice
from moderation.audit import record_event
from moderation.models import WriterKey
from moderation.personal_data import shred_keys
from supervision import permissions
from supervision.models import RetentionKind, RetentionRule
from supervision.pruning import prune_finished_work

RULE_FIELDS = ("keep_days_after_last_activity", "is_active")


def appeal_window() -> timedelta:
    return timedelta(days=settings.MODERATION["APPEAL_WINDOW_DAYS"])


def cutoff_for(rule: RetentionRule, *, now: datetime) -> datetime:
    """Data whose last activity is before this moment is past its time. Finished
    background work is plumbing, not the record: no appeal window (supervision.pruning)."""
    if rule.kind == RetentionKind.FINISHED_WORK:
        return now - timedelta(days=rule.keep_days_after_last_activity)
    return now - appeal_window() - timedelta(days=rule.keep_days_after_last_activity)


# --- rules -----------------------------------------------------------------------------


@transaction.atomic
def save_retention_rule(*, actor, rule: RetentionRule) -> RetentionRule:
    """Change how long a kind is kept (built by the admin form); audited."""
    if not permissions.can_edit_retention(actor):
        raise PermissionDenied("Only a supervisor may change retention.")
    before = {}
    if rule.pk:
        before = RetentionRule.objects.filter(pk=rule.pk).values(*RULE_FIELDS).first() or {}
    rule.full_clean()
    rule.save()
    record_event(
        actor=actor,
        verb="retention.rule_saved",
        target=rule,
        before=before,
        after={"kind": rule.kind, **{name: getattr(rule, name) for name in RULE_FIELDS}},
    )
    return rule


# --- what is past its time ----------------------------------------------------------


def _appeals_of_case(case_ref=None):
    case_ref = case_ref if case_ref is not None else OuterRef("pk")
    return Appeal.objects.filter(Q(action__case=case_ref) | Q(notice__case=case_ref))


def _latest(queryset: QuerySet, name: str) -> Subquery:
    return Subquery(
        queryset.filter(**{f"{name}__isnull": False}).order_by(F(name).desc()).values(name)[:1],
        output_field=DateTimeField(),
    )


def cases_past(cutoff: datetime) -> QuerySet[Case]:
    """Closed cases with no standing legal hold and no open appeal whose last decision
    or appeal (filed or decided) is before `cutoff`."""
    opened = F("opened_at")
    decisions = Decision.objects.filter(case=OuterRef("pk"))
    return (
        Case.objects.exclude(status__in=OPEN_CASE_STATUSES)
        .annotate(
            last_activity=Greatest(
                Coalesce("decided_at", opened),
                Coalesce(_latest(decisions, "decided_at"), opened),
                Coalesce(_latest(_appeals_of_case(), "submitted_at"), opened),
                Coalesce(_latest(_appeals_of_case(), "decided_at"), opened),
            )
        )
        .filter(last_activity__lt=cutoff)
        .exclude(Exists(LegalHold.objects.filter(case=OuterRef("pk"), lifted_at__isnull=True)))
        .exclude(Exists(_appeals_of_case().filter(status__in=OPEN_APPEAL_STATUSES)))
    )


def _caseless_appeals_past(cutoff: datetime) -> QuerySet[Appeal]:
    """Appeals about no case (lost followers with no notice): their own dates count."""
    return (
        Appeal.objects.filter(action__isnull=True, notice__isnull=True, submitted_at__lt=cutoff, decided_at__lt=cutoff)
        .exclude(status__in=OPEN_APPEAL_STATUSES)
        .order_by("pk")
    )


# --- the run -------------------------------------------------------------------------


@dataclass
class RetentionReport:
    """What one run deleted, by kind (and how many audit rows say so)."""

    purged: dict[str, int] = field(default_factory=dict)
    audit_rows: int = 0
    # Finished background work deleted (supervision.pruning), by table: rows of no case.
    pruned: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, count: int) -> None:
        self.purged[kind] = self.purged.get(kind, 0) + count
        self.audit_rows += 1


CHUNK = 200


def _chunks(queryset) -> Iterator[list]:
    """Ids (or rows) a chunk at a time: one transaction per chunk keeps commits (and the
    locks each one holds) short without paying a commit per case."""
    batch: list = []
    for item in queryset.iterator(chunk_size=CHUNK):
        batch.append(item)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def run_retention(*, now: datetime | None = None) -> RetentionReport:
    """Delete everything past its time, kind by kind, case by case, a chunk of cases per
    transaction (a crash loses at most the chunk, which the next run redoes)."""
    now = now or timezone.now()
    report = RetentionReport()
    for rule in RetentionRule.objects.filter(is_active=True).order_by("kind"):
        if rule.kind == RetentionKind.FINISHED_WORK:
            report.pruned = prune_finished_work(rule=rule, now=now).deleted
            continue
        cutoff = cutoff_for(rule, now=now)
        purge = PURGES[rule.kind]
        cases = cases_past(cutoff).filter(LEFT[rule.kind]()).order_by("pk")
        for chunk in _chunks(cases.values_list("pk", flat=True)):
            with transaction.atomic():
                for case_id in _still_past(chunk):
                    purge(rule=rule, case_id=case_id, cutoff=cutoff, now=now, report=report)
        if rule.kind in (RetentionKind.APPEAL_FILE, RetentionKind.PERSONAL_DATA):
            appeals = _caseless_appeals_past(cutoff)
            if rule.kind == RetentionKind.APPEAL_FILE:
                appeals = appeals.filter(Exists(AppealFile.objects.filter(appeal=OuterRef("pk"))))
            else:
                appeals = appeals.filter(personal_data_erased_at__isnull=True)
            for chunk in _chunks(appeals.values_list("pk", flat=True)):
                with transaction.atomic():
                    for appeal_id in chunk:
                        purge(rule=rule, appeal_id=appeal_id, cutoff=cutoff, now=now, report=report)
        if rule.kind == RetentionKind.PERSONAL_DATA:
            _shred_writer_keys(rule=rule, cutoff=cutoff, now=now, report=report)
    return report


def _still_past(case_ids: list[int]) -> list[int]:
    """What can change during a run, checked again under the cases' row locks (which
    placing a legal hold also takes): a hold placed, an appeal filed or a case reopened
    while the run goes on wins. A few queries per chunk, not per case."""
    closed = list(
        Case.objects.select_for_update()
        .filter(pk__in=case_ids)
        .exclude(status__in=OPEN_CASE_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    held = set(LegalHold.objects.filter(case_id__in=closed, lifted_at__isnull=True).values_list("case_id", flat=True))
    open_appeals = Appeal.objects.filter(status__in=OPEN_APPEAL_STATUSES)
    appealed = set(open_appeals.filter(action__case_id__in=closed).values_list("action__case_id", flat=True))
    appealed |= set(open_appeals.filter(notice__case_id__in=closed).values_list("notice__case_id", flat=True))
    return [case_id for case_id in closed if case_id not in held and case_id not in appealed]


def _audit(
    *, rule: RetentionRule, counts: dict, total: int, case_id=None, appeal_id=None, report: RetentionReport
) -> None:
    """One row per purge; `total` is how many records (not files) it emptied."""
    if not total:
        return
    record_event(
        actor=None,
        verb="retention.purged",
        target=rule,
        after={"kind": rule.kind, **counts},
        reason=f"Past the appeal window plus {rule.keep_days_after_last_activity} days",
        case_ref=case_id,
        appeal_ref=appeal_id,
    )
    report.add(rule.kind, total)


def _delete_files_after_commit(storage_names: list[tuple]) -> None:
    """Files go once the rows no longer point at them: a rolled-back purge keeps both."""

    def delete():
        for storage, name in storage_names:
            storage.delete(name)

    if storage_names:
        transaction.on_commit(delete)


def _purge_evidence(*, snapshots: bool):
    def purge(*, rule, case_id, now, report, **_):
        with transaction.atomic():
            items = Evidence.objects.select_for_update().filter(case_id=case_id, purged_at__isnull=True)
            items = items.filter(kind=EvidenceKind.SNAPSHOT) if snapshots else items.exclude(kind=EvidenceKind.SNAPSHOT)
            items = list(items)
            files = [(e.file.storage, e.file.name) for e in items if e.file]
            # Evidence is never edited through the model (Evidence.save refuses); retention
            # is the one sanctioned change, and it only ever empties.
            Evidence.objects.filter(pk__in=[e.pk for e in items]).update(body="", data={}, file="", purged_at=now)
            _delete_files_after_commit(files)
            _audit(
                rule=rule,
                counts={"items": len(items), "files": len(files)},
                total=len(items),
                case_id=case_id,
                report=report,
            )

    return purge


def _purge_appeal_files(*, rule, now, report, case_id=None, appeal_id=None, **_):
    with transaction.atomic():
        appeals = _appeals_of_case(case_id) if case_id else Appeal.objects.filter(pk=appeal_id)
        files = list(AppealFile.objects.select_for_update().filter(appeal__in=appeals.values("pk")))
        AppealFile.objects.filter(pk__in=[f.pk for f in files]).delete()
        _delete_files_after_commit([(f.file.storage, f.file.name) for f in files if f.file])
        _audit(
            rule=rule,
            counts={"files": len(files)},
            total=len(files),
            case_id=case_id,
            appeal_id=appeal_id,
            report=report,
        )


def _purge_personal_data(*, rule, now, report, case_id=None, appeal_id=None, **_):
    with transaction.atomic():
        if case_id:
            appeals = _appeals_of_case(case_id)
            notices = Notice.objects.filter(case_id=case_id).exclude(email="").update(email="")
        else:
            appeals, notices = Appeal.objects.filter(pk=appeal_id), 0
        erased = appeals.filter(personal_data_erased_at__isnull=True).update(
            contact_email="", writer_statement="", personal_data_erased_at=now
        )
        _audit(
            rule=rule,
            counts={"notice_emails": notices, "appeals": erased},
            total=notices + erased,
            case_id=case_id,
            appeal_id=appeal_id,
            report=report,
        )


def _shred_writer_keys(*, rule, cutoff: datetime, now: datetime, report: RetentionReport) -> None:
    """A writer's key goes once nothing of theirs is still kept: no case of theirs
    that is open, held or within its time, no appeal open or recent, and no seal
    under the key since the cutoff."""
    past = cases_past(cutoff).values("pk")
    kept_cases = Case.objects.filter(account=OuterRef("account")).exclude(pk__in=past)
    kept_appeals = Appeal.objects.filter(account=OuterRef("account")).filter(
        Q(status__in=OPEN_APPEAL_STATUSES) | Q(submitted_at__gte=cutoff) | Q(decided_at__gte=cutoff)
    )
    keys = (
        WriterKey.objects.filter(shredded_at__isnull=True, last_used_at__lt=cutoff)
        .exclude(Exists(kept_cases))
        .exclude(Exists(kept_appeals))
        .order_by("pk")
    )
    for chunk in _chunks(keys):
        with transaction.atomic():
            for key in chunk:
                if shred_keys([key], now=now):
                    record_event(
                        actor=None,
                        verb="retention.purged",
                        target=key,
                        after={"kind": rule.kind, "writer_keys": 1},
                        reason=f"Past the appeal window plus {rule.keep_days_after_last_activity} days",
                    )
                    report.add(rule.kind, 1)


# What is still there to purge, per kind: a case already purged is not visited again.
LEFT = {
    RetentionKind.EVIDENCE: lambda: Exists(
        Evidence.objects.filter(case=OuterRef("pk"), purged_at__isnull=True).exclude(kind=EvidenceKind.SNAPSHOT)
    ),
    RetentionKind.SNAPSHOT: lambda: Exists(
        Evidence.objects.filter(case=OuterRef("pk"), purged_at__isnull=True, kind=EvidenceKind.SNAPSHOT)
    ),
    # The case is referred to directly: an OuterRef inside `appeal__in=` would point at
    # the appeal file's own row, not the case.
    RetentionKind.APPEAL_FILE: lambda: Exists(
        AppealFile.objects.filter(Q(appeal__action__case=OuterRef("pk")) | Q(appeal__notice__case=OuterRef("pk")))
    ),
    RetentionKind.PERSONAL_DATA: lambda: (
        Exists(Notice.objects.filter(case=OuterRef("pk")).exclude(email=""))
        | Exists(_appeals_of_case().filter(personal_data_erased_at__isnull=True))
    ),
}

PURGES = {
    RetentionKind.EVIDENCE: _purge_evidence(snapshots=False),
    RetentionKind.SNAPSHOT: _purge_evidence(snapshots=True),
    RetentionKind.APPEAL_FILE: _purge_appeal_files,
    RetentionKind.PERSONAL_DATA: _purge_personal_data,
}
