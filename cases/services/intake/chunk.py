"""One chunk of signals in one transaction: the mirror copies, the cases they join or
open, the signals and evidence, then (the joined cases locked) proposals, the case
stats, and audit rows last.

The open cases are read without a lock and the chunk's rows inserted against them; only
then are the cases it joined locked, in id order, checked still open (one decided or
closed meanwhile sends the chunk round again: LostRace) and refreshed, so a case's row
lock is held for its stats, proposals, audit rows and commit, not for the whole chunk:
eight posters whose chunks share cases insert side by side instead of in turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models.signals import post_save
from django.utils import timezone

from cases.models import OPEN_CASE_STATUSES, Case, EnforcementAction, Evidence, EvidenceKind, Signal
from cases.services.intake.case_opening import (
    OPEN_SQL,
    READ_FIELDS,
    lock_joined_cases,
    new_case,
    propose_all,
    read_open_cases,
)
from cases.services.intake.chunk_audit import audit_chunk
from cases.services.intake.inputs import HUMAN_SOURCES, READER_FAMILY, IngestResult, SignalIn
from cases.services.intake.mirror import (
    ACCOUNT_DATA_FIELDS,
    IGNORED,
    STORY_DATA_FIELDS,
    chunk_accounts,
    chunk_stories,
    ignored_facts,
)
from cases.services.intake.priority import refresh_cases_stats
from cases.services.intake.reporters import muted_reporters
from cases.services.intake.signal_rows import SignalRow, check
from cases.services.intake.snapshots import signal_evidence_content, signal_evidence_values, snapshot_evidence
from moderation import setwise
from moderation.models import ApiClient, SignalSource
from moderation.outbox import recorded_together

# A subject's open case of a family another chunk opened first: skipped (case_one_open_per_subject_family).
_ONE_OPEN_CONFLICT = f"ON CONFLICT (account_id, COALESCE(story_id, 0), policy_family) WHERE {OPEN_SQL} DO NOTHING"

_STORY, _QUEUE, _POLICY = (Case._meta.get_field(name) for name in ("story", "queue", "policy"))


def _open_key(case: Case) -> tuple:
    return case.account_id, case.story_id or 0, case.policy_family


class LostRace(Exception):
    """Another transaction wrote a row this chunk counted on writing: run it again."""


@dataclass
class Touched:
    """What a chunk did to one case, for the stats refresh and the audit rows."""

    case: Case
    was_automated: bool
    opened: dict | None = None  # the case.opened audit payload
    signals: list[SignalRow] = field(default_factory=list)
    attached: list[int] = field(default_factory=list)  # earlier 'show less' signals it took up
    proposing: list[SignalRow] = field(default_factory=list)
    proposals: list[EnforcementAction] = field(default_factory=list)


def store_chunk(*, client: ApiClient, entries: list[tuple[int, SignalIn]], now: datetime, lookups) -> dict:
    """Rows first (mirror, cases, signals, evidence, proposals, stats), audit rows last.
    Runs inside the caller's transaction; returns an IngestResult per item index."""
    chunk = _Chunk(client=client, entries=entries, now=now, lookups=lookups)
    for i, item in entries:
        chunk.place(i, item)
    chunk.write()
    audit_chunk(actor=client.user, touched=list(chunk.touched.values()), signals=chunk.signals, ignored=chunk.ignored)
    return chunk.results()


class _Chunk:
    """The chunk's working state: what was loaded in bulk, and what is to be written."""

    def __init__(self, *, client: ApiClient, entries: list[tuple[int, SignalIn]], now: datetime, lookups):
        self.client, self.now, self.lookups = client, now, lookups
        self.accounts, self.created_accounts = chunk_accounts(entries, now=now)
        self.stories, self.created_stories = chunk_stories(entries, self.accounts)
        self.muted_ids = muted_reporters({self.accounts[item.reporter] for _, item in entries if item.reporter})
        subjects = {self._subject(item) for _, item in entries}
        self.open_cases = read_open_cases(subjects, self.accounts)  # relations cached once locked
        self.touched: dict[int, Touched] = {}  # by id(): a case opened here has no pk until write()
        self.opened: list[Case] = []  # cases this chunk opens, inserted together by write()
        self.timeline: list = []  # signals and snapshots, in the order their evidence is written
        self.waiting: dict[tuple, list] = {}  # 'show less' signals without a case, per subject
        self.ignored: dict[int, dict] = {}  # item index -> facts it tried to change
        self.signals: list[tuple[int, SignalRow, list[str]]] = []
        self.case_at_store: dict[int, Case | None] = {}

    def _cache_relations(self, cases: list[Case]) -> None:
        """The joined cases with their story (the chunk's copy) and their queue and
        policy (the batch's, read once), as select_related would give them."""
        stories = {story.pk: story for story in self.stories.values()}
        self.lookups.load(queues={c.queue_id for c in cases}, policies={c.policy_id for c in cases if c.policy_id})
        for case in cases:  # cached as select_related would (the ids are the rows' own)
            if case.story_id in stories:  # always: the subjects are the chunk's own
                _STORY.set_cached_value(case, stories[case.story_id])
            _QUEUE.set_cached_value(case, self.lookups.queues_by_pk[case.queue_id])
            _POLICY.set_cached_value(case, self.lookups.policies_by_pk[case.policy_id] if case.policy_id else None)

    def _subject(self, item: SignalIn) -> tuple[int, int | None]:
        return self.accounts[item.account].pk, self.stories[item.story].pk if item.story else None

    def place(self, i: int, item: SignalIn) -> None:
        """Build the item's signal and find (or open) the case it joins, in memory."""
        created, self.ignored[i] = self._mirror_copies(i, item)
        signal = self._signal(item)
        self.signals.append((i, signal, created))
        self.case_at_store[i] = None
        if signal.set_aside:
            return
        subject = self._subject(item)
        if signal.source == SignalSource.SHOW_LESS and signal.policy is None:
            found = self._show_less_case(subject, signal)
        else:
            found = self._rule_case(subject, signal)
        if found is not None:
            self._join(signal, *found)
            self.case_at_store[i] = found[0]

    def _mirror_copies(self, i: int, item: SignalIn) -> tuple[list[str], dict]:
        """Which copies this item created (for the audit), and the facts it tried to
        change on known ones (ignored: only the platform mirror changes facts)."""
        created, ignored = [], {}
        if self.created_accounts.get(item.account) == i:
            created.append("created")
        else:
            account = self.accounts[item.account]
            ignored.update(ignored_facts(account, item.account_data, ACCOUNT_DATA_FIELDS, prefix="account_data"))
        if item.story and self.created_stories.get(item.story) == i:
            created.append("story.created")
        elif item.story:
            story = self.stories[item.story]
            ignored.update(ignored_facts(story, item.story_data, STORY_DATA_FIELDS, prefix="story_data"))
        return created, ignored

    def _signal(self, item: SignalIn) -> SignalRow:
        reporter = self.accounts[item.reporter] if item.reporter else None
        policy = item.policy
        if policy is None and item.source == SignalSource.READER_REPORT:
            policy = self.lookups.default_policy()
        signal = SignalRow(
            client_id=self.client.pk,
            idempotency_key=item.idempotency_key,
            source=item.source,
            account=self.accounts[item.account],
            story=self.stories[item.story] if item.story else None,
            reporter=reporter,
            reason=item.reason,
            policy=policy,
            detector_name=item.detector_name,
            detector_version=item.detector_version,
            score=item.score,
            proposed_outcomes=list(item.proposed_outcomes),
            payload=item.payload or {},
            observed_at=item.observed_at or self.now,
            set_aside=reporter is not None and reporter.pk in self.muted_ids,
        )
        check(signal)
        return signal

    def _rule_case(self, subject: tuple, signal: SignalRow) -> tuple[Case, bool, list[SignalRow]]:
        """The open case of the signal's family on the subject, or a new one."""
        family = signal.policy.family if signal.policy else READER_FAMILY
        case = next((c for c in self.open_cases.get(subject, []) if c.policy_family == family), None)
        if case is not None:
            return case, False, [signal]
        return self._open_case(subject, signal, family), True, [signal]

    def _show_less_case(self, subject: tuple, signal: SignalRow) -> tuple[Case, bool, list] | None:
        """'Show less' names no rule: it joins any open case on the subject, and alone
        opens one only once enough distinct readers said it."""
        on_subject = self.open_cases.get(subject, [])
        if on_subject:
            return on_subject[0], False, [signal]
        queued = self._waiting_on(subject, signal)
        queued.append(signal)
        if len({s.reporter_id for s in queued}) < settings.MODERATION["SHOW_LESS_THRESHOLD"]:
            return None
        case = self._open_case(subject, signal, READER_FAMILY)
        joining = list(queued)
        queued.clear()
        return case, True, joining

    def _waiting_on(self, subject: tuple, signal: SignalRow) -> list:
        """Stored 'show less' signals on the subject still waiting for enough readers."""
        if subject not in self.waiting:
            self.waiting[subject] = list(
                Signal.objects.filter(
                    source=SignalSource.SHOW_LESS,
                    account=signal.account,
                    story=signal.story,
                    case__isnull=True,
                    set_aside=False,
                )
                .select_related("reporter")
                .order_by("received_at", "id")
            )
        return self.waiting[subject]

    def _open_case(self, subject: tuple, signal: SignalRow, family: str) -> Case:
        """A new case, in memory: write() inserts the chunk's new cases in one statement."""
        account, story = signal.account, signal.story
        queue = self.lookups.queue(
            policy_family=family, policy_code=signal.policy.code if signal.policy else "", source=signal.source
        )
        case = new_case(
            account=account,
            story=story,
            policy_family=family,
            policy=signal.policy,
            source=signal.source,
            queue=queue,
            now=self.now,
        )
        self.open_cases.setdefault(subject, []).append(case)
        self.opened.append(case)
        return case

    def _touch(self, case: Case) -> Touched:
        if id(case) not in self.touched:
            self.touched[id(case)] = Touched(case=case, was_automated=case.automated_origin)
        return self.touched[id(case)]

    def _join(self, signal: SignalRow, case: Case, opened: bool, joining: list) -> None:
        """Put the signals on the case's timeline (and a snapshot when it just opened)."""
        state = self._touch(case)
        for joined in joining:
            joined.case = case
            if joined.pk is not None:  # stored earlier, waiting for enough readers
                state.attached.append(joined.pk)
            else:
                state.signals.append(joined)
            self.timeline.append(("signal", case, joined))
        if opened:
            self._snapshot(state)
        if signal.source in HUMAN_SOURCES and case.automated_origin:
            case.automated_origin = False
        if signal.source == SignalSource.DETECTOR and signal.proposed_outcomes:
            state.proposing.append(signal)

    def _snapshot(self, state: Touched) -> None:
        case = state.case
        snapshot = snapshot_evidence(case)
        self.timeline.append(("snapshot", case, snapshot))
        state.opened = {
            "queue": case.queue.slug,
            "policy_family": case.policy_family,
            "policy": case.policy.code if case.policy else None,
            "automated_origin": case.automated_origin,
            "sla_due_at": case.sla_due_at,
            "snapshot_hash": snapshot.content_hash,
        }

    def write(self) -> None:
        """Every row of the chunk, one set-based statement per table; the cases it
        joined are locked after its signals and evidence are in, before their stats."""
        self._insert_cases()
        self._insert_signals()
        for state in self.touched.values():
            if state.attached:
                Signal.objects.filter(pk__in=state.attached).update(case=state.case)
        self._insert_evidence()
        # The cases it opened are the chunk's own until it commits: their stats before it
        # locks the joined ones, which are counted under their locks.
        refresh_cases_stats(self.opened, now=self.now)
        joined = self._lock_joined()
        propose_all([state for state in self.touched.values() if state.proposing])
        refresh_cases_stats(joined, now=self.now)

    def _lock_joined(self) -> list[Case]:
        """Lock the existing cases the chunk joined and take them as they are now: one
        closed since the chunk read it (decided, dismissed) or moved to another family
        must not get its signals (LostRace: the chunk runs again and opens a new case);
        fields other writers changed are kept, except that this chunk's human signals
        still clear automated_origin (it only ever turns it off). The cases it opened
        are its own. Returns the joined cases."""
        opened = {id(case) for case in self.opened}
        joined = [state for state in self.touched.values() if id(state.case) not in opened]
        if not joined:
            return []
        locked = lock_joined_cases(sorted(state.case.pk for state in joined))
        for state in joined:
            current = locked.get(state.case.pk)
            if (
                current is None
                or current["status"] not in OPEN_CASE_STATUSES
                or current["policy_family"] != state.case.policy_family
            ):
                raise LostRace("a case this chunk joined was closed meanwhile")
            self._take_over(state, current)
        cases = [state.case for state in joined]
        self._cache_relations(cases)
        return cases

    def _take_over(self, state: Touched, current: dict) -> None:
        """Make the chunk's copy of a case hold `current`'s values ({attname: value}),
        keeping what this chunk's signals change on it (they clear automated_origin if
        human)."""
        case = state.case
        for name, value in current.items():
            setattr(case, name, value)
        case._state.adding, case._state.db = False, "default"
        state.was_automated = current["automated_origin"]
        case.automated_origin = current["automated_origin"] and not _human(state)

    def _insert_evidence(self) -> None:
        """The timeline's evidence rows in one statement, in timeline order (ids follow it)."""
        if not setwise.available():
            Evidence.objects.bulk_create(
                [
                    row if kind == "snapshot" else Evidence(case=case, signal_id=row.pk, **_evidence_fields(row))
                    for kind, case, row in self.timeline
                ]
            )
            return
        rows = [
            setwise.values_of(row) if kind == "snapshot" else signal_evidence_values(case, row)
            for kind, case, row in self.timeline
        ]
        setwise.insert_values(Evidence, rows, now=timezone.now())

    def _insert_signals(self) -> None:
        """The chunk's signals in one statement. The chunk holds its keys' advisory locks
        and has re-read them, so ON CONFLICT never skips one; if it ever did, the chunk
        is run again (ingest) and answers the stored signal as a duplicate."""
        signals = [signal for _, signal, _ in self.signals]
        if not setwise.available():
            stored = Signal.objects.bulk_create([signal.model() for signal in signals])
            for signal, model in zip(signals, stored, strict=True):
                signal.pk = model.pk
            return
        conflict = "ON CONFLICT (client_id, idempotency_key) DO NOTHING"
        ids = {
            key: pk
            for pk, key in setwise.insert_values(
                Signal,
                [signal.values() for signal in signals],
                now=timezone.now(),
                conflict=conflict,
                returning=("id", "idempotency_key"),
            )
        }
        if len(ids) != len(signals):
            raise LostRace("a signal's key was stored by another transaction")
        for signal in signals:
            signal.pk = ids[signal.idempotency_key]

    def _insert_cases(self) -> None:
        """The chunk's new cases in one statement, sorted by subject and family: the one
        order in which every chunk takes entries of the open-case unique index, so two
        chunks never deadlock on it. A subject another chunk opened a case on a moment
        ago is skipped (ON CONFLICT on case_one_open_per_subject_family) and this chunk's
        signals join that case instead, as if it had been open when the chunk began."""
        if not self.opened:
            return
        cases = sorted(self.opened, key=_open_key)
        if setwise.available():
            won = {
                (account_id, story_id or 0, family): pk
                for pk, account_id, story_id, family in setwise.insert_rows(
                    Case,
                    cases,
                    now=timezone.now(),
                    conflict=_ONE_OPEN_CONFLICT,
                    returning=("id", "account_id", "story_id", "policy_family"),
                )
            }
            lost = [case for case in cases if _open_key(case) not in won]
            gone = {id(case) for case in lost}
            for case in cases:
                if _open_key(case) in won:
                    case.pk = won[_open_key(case)]
                    case._state.adding, case._state.db = False, "default"
            self._adopt(lost)
            cases = [case for case in cases if id(case) not in gone]
        else:
            Case.objects.bulk_create(cases)
        with recorded_together():  # the receivers' jobs (evidence builders): one outbox INSERT
            for case in cases:  # no post_save from a bulk insert; its receivers still hear
                post_save.send(sender=Case, instance=case, created=True, update_fields=None, raw=False, using="default")

    def _adopt(self, lost: list[Case]) -> None:
        """Turn each case another chunk opened first into that one (read now; locked with
        the other joined cases by _lock_joined), keeping what this chunk's signals change
        on it; its snapshot and case.opened row are the opener's."""
        if not lost:
            return
        found = read_open_cases({(c.account_id, c.story_id) for c in lost}, self.accounts)
        winners = {_open_key(c): c for on_subject in found.values() for c in on_subject}
        for case in lost:
            winner = winners.get(_open_key(case))
            if winner is None:  # closed again already: start over
                raise LostRace("a case opened by another chunk is no longer open")
            state = self.touched[id(case)]
            self._take_over(state, {name: getattr(winner, name) for name in READ_FIELDS})
            state.opened = None
        gone = {id(case) for case in lost}
        self.opened = [case for case in self.opened if id(case) not in gone]
        self.timeline = [e for e in self.timeline if not (e[0] == "snapshot" and id(e[1]) in gone)]

    def results(self) -> dict[int, IngestResult]:
        return {
            i: IngestResult(
                IngestResult.STORED,
                signal.pk,
                case.pk if (case := self.case_at_store[i]) else None,
                warnings=dict.fromkeys(self.ignored[i], IGNORED),
            )
            for i, signal, _ in self.signals
        }


def _human(state: Touched) -> bool:
    """Whether the chunk brings a person's word to the case (it is no longer automated)."""
    return any(s.source in HUMAN_SOURCES for s in state.signals) or bool(state.attached)


def _evidence_fields(signal: SignalRow) -> dict:
    return {"kind": EvidenceKind.SIGNAL, **signal_evidence_content(signal)}
