"""Batches are stored in chunks, several signals per transaction: the outcome must be
the one sending each signal on its own gives, every signal must be audited, and the
cost per signal must stay a few queries."""

import pytest
from django.utils import timezone

from cases.models import Case, Evidence, ReporterStanding, Signal
from cases.services.intake import CHUNK_SIZE, IngestResult, SignalIn, ingest_signals
from moderation.audit import verify_chain
from moderation.models import Account, AuditEvent, SignalSource
from tests.cases.intake_helpers import detector_signal, make_client, reader_signal, send
from tests.factories import AccountFactory, StoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def platform():
    sources = [SignalSource.READER_REPORT, SignalSource.SHOW_LESS, SignalSource.DETECTOR]
    return make_client("platform", sources)[0]


def _scenario():
    """A mixed stream: a detector case a reader joins, 'show less' crossing the threshold,
    a muted reader, a repeated key and mirror refreshes of one account."""
    writer = AccountFactory(follower_count=10)
    hit_story, quiet_story, troll_story = StoryFactory.create_batch(3, author=writer)
    readers = AccountFactory.create_batch(3)
    troll = AccountFactory()
    ReporterStanding.objects.create(reporter=troll, muted_at=timezone.now())
    items = [
        detector_signal(writer, hit_story, proposed_outcomes=["paywall.remove"], account_data={"follower_count": 20}),
        reader_signal(writer, hit_story, reporter=readers[0], account_data={"follower_count": 30}),
        detector_signal(writer, hit_story, score=0.97, proposed_outcomes=["paywall.remove", "warning"]),
        *[reader_signal(writer, quiet_story, reporter=r, source=SignalSource.SHOW_LESS) for r in readers],
        reader_signal(writer, troll_story, reporter=troll),
        SignalIn(
            idempotency_key="new-reader",
            source=SignalSource.READER_REPORT,
            account="p-new",
            reporter="r-new",
            account_data={"handle": "brandnew", "follower_count": 5},
        ),
    ]
    items.append(items[0])  # a retry inside the batch
    return writer, items


def _outcome(writer, results):
    cases = {r.case_id for r in results if r.case_id} | set(
        Case.objects.filter(account__platform_id__in=[writer.platform_id, "p-new"]).values_list("pk", flat=True)
    )
    summary = [
        (
            c.policy_family,
            c.signal_count,
            c.reporter_count,
            c.max_detector_score,
            c.priority,
            c.automated_origin,
            c.queue.slug,
            sorted(c.evidence.values_list("kind", flat=True)),
            sorted(c.actions.values_list("outcome", flat=True)),
        )
        for c in Case.objects.filter(pk__in=cases).order_by("id")
    ]
    pattern = [(r.status, r.case_id is not None) for r in results]
    writer.refresh_from_db()
    return pattern, summary, writer.follower_count


def test_a_batch_ends_as_sending_each_signal_alone_does(platform, settings):
    settings.MODERATION = {**settings.MODERATION, "SHOW_LESS_THRESHOLD": 3}
    now = timezone.now()
    writer, items = _scenario()
    one_by_one = _outcome(writer, [send(platform, item, now=now) for item in items])
    Account.objects.filter(platform_id="p-new").update(platform_id="p-old", handle="oldhandle")

    writer, items = _scenario()
    other = make_client("platform-2", [SignalSource.READER_REPORT, SignalSource.SHOW_LESS, SignalSource.DETECTOR])[0]
    batch = ingest_signals(client=other, items=items, now=now)
    assert _outcome(writer, batch) == one_by_one
    assert batch[-1] == IngestResult(IngestResult.DUPLICATE, batch[0].signal_id, batch[0].case_id)
    assert [r.status for r in batch].count("stored") == len(items) - 1
    assert Signal.objects.get(pk=batch[6].signal_id).set_aside is True  # the muted reader
    assert Account.objects.get(platform_id="r-new").handle == "reader-r-new"


def test_every_signal_of_a_batch_is_named_in_one_audit_row_and_the_chain_holds(platform):
    story = StoryFactory()
    items = [detector_signal(story.author, story, proposed_outcomes=["paywall.remove"]) for _ in range(CHUNK_SIZE + 20)]
    items += [reader_signal(story.author, StoryFactory(), reporter=AccountFactory()) for _ in range(5)]
    results = ingest_signals(client=platform, items=items)

    named = [s["id"] for e in AuditEvent.objects.filter(verb="signals.received") for s in e.after["signals"]]
    assert sorted(named) == sorted(r.signal_id for r in results)
    case_id = results[0].case_id
    verbs = list(AuditEvent.objects.filter(case_ref=case_id).order_by("id").values_list("verb", flat=True))
    # Two chunks on the busy case: one row each for its signals, not one per signal.
    assert verbs == ["case.opened", "signals.received", "case.action_proposed", "signals.received"]
    assert Case.objects.get(pk=case_id).signal_count == CHUNK_SIZE + 20
    assert Evidence.objects.filter(case_id=case_id, kind="signal").count() == CHUNK_SIZE + 20
    assert verify_chain().ok


def test_a_batch_costs_a_few_queries_per_signal(platform, django_assert_max_num_queries):
    writers = AccountFactory.create_batch(20)
    items = [detector_signal(writers[n % 20], None, account_data={"follower_count": n}) for n in range(100)]
    # 20 cases opened, 20 accounts' facts left alone (their account_data ignored and audited
    # in bulk): about 2.5 queries a signal (one by one: ~16).
    with django_assert_max_num_queries(300):
        results = ingest_signals(client=platform, items=items)
    assert len({r.case_id for r in results}) == 20
    # Resent: one chunk, its keys locked and looked up once (with its savepoint), nothing written.
    with django_assert_max_num_queries(4):
        again = ingest_signals(client=platform, items=items)
    assert [r.signal_id for r in again] == [r.signal_id for r in results]


def test_joining_open_cases_costs_the_same_queries_for_five_cases_as_for_forty(platform):
    """A chunk reads open cases with only some of their columns: a column it touched
    without reading would be loaded case by case, one query each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def joining(count: int) -> tuple[int, list]:
        writers = AccountFactory.create_batch(count)
        ingest_signals(client=platform, items=[detector_signal(w, None) for w in writers])
        items = [detector_signal(w, None, score=0.95) for w in writers]
        with CaptureQueriesContext(connection) as queries:
            results = ingest_signals(client=platform, items=items)
        return len(queries.captured_queries), results

    few, _ = joining(5)
    many, results = joining(40)
    assert many == few
    joined = Case.objects.filter(pk__in={r.case_id for r in results})
    assert joined.count() == 40
    assert all(case.signal_count == 2 and case.max_detector_score == 0.95 for case in joined)


def test_the_cases_a_chunk_opens_record_their_evidence_jobs_in_one_outbox_insert(platform, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from moderation.models import BackgroundJob

    settings.JOBS_RUN_INLINE = False
    writers = AccountFactory.create_batch(20)
    items = [detector_signal(writers[n % 20], None) for n in range(40)]
    with CaptureQueriesContext(connection) as queries:
        results = ingest_signals(client=platform, items=items)
    opened = {r.case_id for r in results}
    jobs = BackgroundJob.objects.filter(func="cases.evidence.jobs.build_evidence_job")
    assert sorted(job.args[0] for job in jobs) == sorted(opened), "one evidence job per case opened"
    inserts = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "moderation_backgroundjob"')
    ]
    assert len(inserts) == 1, "the chunk's jobs go to the outbox in one statement"
