"""The dashboard's daily rollup: whole days come from it, the rest is counted live, and
whatever arrives late (a signal on a case opened days ago, an escalation, a human report
on a detectors-only case, a reversed verdict, an overturned action) never makes a figure
differ from counting everything live."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import ActionStatus, Case, CaseStatus, EnforcementAction, ReversalCause, Signal, VerdictSource
from moderation.models import SignalSource
from supervision import selectors
from supervision.models import RolledUpDay, RollupStaleMark
from supervision.services import roll_up_supervision_days
from tests.factories import AccountFactory, CaseFactory, EnforcementActionFactory, SignalFactory, supervisor
from tests.supervision.world import NOW, PERIOD, at, build_world

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

LATER = at(31)  # the rollup runs after the period: every day of it is over
PERIOD_QUERY = {"start": "2026-03-02", "end": "2026-03-29"}


def measures(*, rollup: bool, period=PERIOD) -> dict:
    split = selectors.rollup_split(period=period, rollup=rollup)
    return {
        "queues": selectors.queue_measures(period=period, now=NOW, split=split),
        "detectors": selectors.detector_measures(period=period, split=split),
        "policies": selectors.policy_measures(period=period, split=split),
        "automation": selectors.automation_shares(period=period, split=split),
    }


def assert_rollup_equals_live(period=PERIOD):
    assert measures(rollup=True, period=period) == measures(rollup=False, period=period)


@pytest.fixture
def world():
    world = build_world()
    roll_up_supervision_days(now=LATER)
    return world


def test_whole_days_come_from_the_rollup_and_match_the_live_count(world):
    split = selectors.rollup_split(period=PERIOD)
    days, live = split.part(PERIOD.start, PERIOD.end, kind="cases")
    assert len(days) == 28 and live == []
    assert not RollupStaleMark.objects.exists()
    assert_rollup_equals_live()
    rows = {r["queue"].slug: r for r in selectors.queue_measures(period=PERIOD, now=NOW, split=split)}
    assert (rows["queue-a"]["inflow"], rows["queue-b"]["inflow"]) == (4, 3)
    weeks = {w["week"]: w["inflow"] for w in rows["queue-a"]["weekly"]}
    assert (weeks["2026-02-23"], weeks["2026-03-02"], weeks["2026-03-16"]) == (1, 3, 1)
    detectors = {d["version"]: d["cases"] for d in selectors.detector_measures(period=PERIOD, split=split)}
    assert detectors == {"1.0": 1, "2.0": 3}
    assert selectors.automation_shares(period=PERIOD, split=split)["cases"]["automated"] == 2


def test_a_period_that_does_not_start_at_midnight_counts_its_part_days_live(world):
    period = selectors.Period(at(2, 11), at(25, 6))
    days, live = selectors.rollup_split(period=period).part(period.start, period.end, kind="cases")
    assert live == [(at(2, 11), at(3)), (at(25), at(25, 6))]
    assert_rollup_equals_live(period)


def test_late_facts_mark_their_day_and_the_dashboard_still_counts_them(world):
    c1, c2, c4 = world.cases["c1"], world.cases["c2"], world.cases["c4"]
    queue_b = world.queues["b"]
    # A new detector version's first signal on a case opened on 2 March, arriving today.
    SignalFactory(case=c1, account=c1.account, detector=True, detector_version="9.9")
    # c2 (opened 3 March) escalated to queue B; a reader's report on c4 (9 March) means
    # detectors alone no longer opened it.
    Case.objects.filter(pk=c2.pk).update(queue=queue_b)
    Case.objects.filter(pk=c4.pk).update(automated_origin=False)
    # A case opened today for 5 March, as an import would back-date it.
    CaseFactory(queue=queue_b, opened_at=at(5, 9), sla_due_at=at(6, 9), status=CaseStatus.OPEN)

    stale = set(RollupStaleMark.objects.values_list("day", "kind"))
    assert {
        (at(2).date(), "detectors"),
        (at(3).date(), "cases"),
        (at(5).date(), "cases"),
        (at(9).date(), "cases"),
    } <= stale
    # Cases inserted or moved change no signal count: those stay read from the rollup.
    assert not {day for day, kind in stale if kind == "signals"}
    assert_rollup_equals_live()
    detectors = {d["version"]: d["cases"] for d in measures(rollup=True)["detectors"]}
    assert detectors["9.9"] == 1
    queues = {r["queue"].slug: r["inflow"] for r in measures(rollup=True)["queues"]}
    assert (queues["queue-a"], queues["queue-b"]) == (3, 5)
    assert measures(rollup=True)["automation"]["cases"]["automated"] == 1

    run = roll_up_supervision_days(now=LATER)
    assert {at(2).date(), at(3).date(), at(5).date(), at(9).date()} <= {day for day, _ in run.days}
    assert not RollupStaleMark.objects.exists()
    days, live = selectors.rollup_split(period=PERIOD).part(PERIOD.start, PERIOD.end, kind="detectors")
    assert len(days) == 28 and live == []
    assert_rollup_equals_live()


def test_late_changes_to_applied_actions_mark_their_day_and_the_dashboard_still_counts_them(world):
    c1, c3, c6 = world.cases["c1"], world.cases["c3"], world.cases["c6"]
    assert selectors.rollup_split(period=PERIOD).part(PERIOD.start, PERIOD.end, kind="actions")[1] == []
    # Today an appeal overturns c3's action (applied 7 March); a new detector version's
    # first signal lands on c6 (its action applied 3 March); a person's report on c1
    # (action applied 2 March) means detectors alone no longer opened it.
    EnforcementAction.objects.filter(case=c3, status=ActionStatus.APPLIED).update(
        status=ActionStatus.REVERSED, reversed_at=NOW, reversal_cause=ReversalCause.APPEAL
    )
    SignalFactory(case=c6, account=c6.account, detector=True, detector_version="7.0")
    Case.objects.filter(pk=c1.pk).update(automated_origin=False)

    stale = set(RollupStaleMark.objects.filter(kind="actions").values_list("day", flat=True))
    assert {at(2).date(), at(3).date(), at(7).date()} <= stale
    assert_rollup_equals_live()
    detectors = {d["version"]: d for d in measures(rollup=True)["detectors"]}
    assert (detectors["2.0"]["applied"], detectors["2.0"]["overturned"]) == (1, 1)
    assert detectors["7.0"]["applied"] == 1

    roll_up_supervision_days(now=LATER)
    assert not RollupStaleMark.objects.exists()
    days, live = selectors.rollup_split(period=PERIOD).part(PERIOD.start, PERIOD.end, kind="actions")
    assert len(days) == 28 and live == []
    assert_rollup_equals_live()


def test_actions_applied_now_mark_no_day(world):
    """A bulk apply writes today's actions, which no run has rolled up yet."""
    decision = world.decisions["d6"]
    actions = EnforcementActionFactory.create_batch(
        3, decision=decision, outcome="story.remove", status=ActionStatus.APPROVED
    )
    EnforcementAction.objects.filter(pk__in=[a.pk for a in actions]).update(
        status=ActionStatus.APPLIED, applied_at=timezone.now()
    )
    assert not RollupStaleMark.objects.exists()


def test_a_second_signal_of_the_same_detector_changes_no_count_and_marks_nothing(world):
    c1 = world.cases["c1"]
    SignalFactory(case=c1, account=c1.account, detector=True, detector_version="1.0")
    assert not RollupStaleMark.objects.exists()
    assert_rollup_equals_live()


def test_signals_received_late_and_deleted_stay_counted_right(world):
    c7 = world.cases["c7"]
    late = SignalFactory(case=c7, account=c7.account, source=SignalSource.STAFF)
    Signal.objects.filter(pk=late.pk).update(received_at=at(21, 8))
    assert set(RollupStaleMark.objects.values_list("day", "kind")) == {(at(21).date(), "signals")}
    assert_rollup_equals_live()
    assert measures(rollup=True)["automation"]["signals"]["total"] == 8  # 7 in the world's period, and this one
    Signal.objects.filter(pk=late.pk).delete()
    assert_rollup_equals_live()


def test_verdicts_revised_after_the_day_are_read_live(world):
    """Precision is not rolled up: an appeal that reverses a reviewer's mark weeks later
    shows at once."""
    verdict = world.decisions["d1"].detector_verdicts.get()
    verdict.final_was_correct, verdict.final_source, verdict.final_revised_at = False, VerdictSource.APPEAL, NOW
    verdict.save()
    detectors = {d["version"]: d for d in measures(rollup=True)["detectors"]}
    assert (detectors["1.0"]["final_right"], detectors["1.0"]["final_marks"]) == (0, 1)
    assert_rollup_equals_live()


def test_a_run_counts_today_up_to_the_lag_and_finished_days_once(world):
    run = roll_up_supervision_days(now=LATER)
    assert run.days == [(at(30).date(), at(31) - timedelta(minutes=15))]
    run = roll_up_supervision_days(now=LATER + timedelta(days=1))
    assert [day for day, _ in run.days] == [at(30).date(), at(31).date()]
    assert RolledUpDay.objects.get(day=at(30).date()).through == at(31)


def test_today_counts_from_the_rollup_up_to_its_last_run_and_live_after():
    build_world()
    today = selectors.Period(at(25), at(26))
    roll_up_supervision_days(now=at(25, 12))
    days, live = selectors.rollup_split(period=today).part(today.start, today.end, kind="signals")
    assert days == [at(25).date()]
    assert live == [(at(25, 11) + timedelta(minutes=45), at(26))]
    assert_rollup_equals_live(today)
    assert measures(rollup=True, period=today)["automation"]["cases"]["total"] == 1  # c8, at midnight


def test_the_backfill_command_reports_what_it_rolled_up():
    build_world()
    call_command("rollup_supervision_days", "--since", "2026-03-01")
    assert RolledUpDay.objects.filter(day=at(1).date()).exists()
    assert not RolledUpDay.objects.filter(day=at(28, month=2).date()).exists()


def test_the_dashboard_says_how_far_the_rollup_goes(client, world):
    client.force_login(supervisor(username="sam"))
    html = client.get("/admin/supervision/", PERIOD_QUERY).content.decode()
    status = html.split('id="rollup-status">')[1].split("</p>")[0]
    assert "up to 30 Mar 2026, 00:00" in status and "last run 31 Mar 2026, 00:00" in status


def _dashboard_queries(client) -> int:
    client.get("/admin/supervision/", PERIOD_QUERY)  # warm the per-process caches outside the count
    with CaptureQueriesContext(connection) as run:
        assert client.get("/admin/supervision/", PERIOD_QUERY).status_code == 200
    return len(run.captured_queries)


def _grow(world, cases: int) -> None:
    """More cases across the period, each with detector signals of several versions and a
    reader's report."""
    for n in range(cases):
        case = CaseFactory(
            queue=world.queues["ab"[n % 2]], opened_at=at(2 + n % 27, n % 24), sla_due_at=at(28), automated_origin=True
        )
        for version in ("1.0", "2.0", f"3.{n % 4}"):
            SignalFactory(case=case, account=case.account, detector=True, detector_version=version)
        SignalFactory(case=case, account=case.account, source=SignalSource.READER_REPORT, reporter=AccountFactory())


def test_the_dashboard_costs_the_same_queries_for_a_small_and_a_large_platform(client, world):
    client.force_login(supervisor(username="sam"))
    rolled_small = _dashboard_queries(client)
    _grow(world, 3)
    stale_small = _dashboard_queries(client)
    _grow(world, 40)
    assert _dashboard_queries(client) == stale_small
    roll_up_supervision_days(now=LATER)
    assert _dashboard_queries(client) == rolled_small


def test_the_live_detector_count_counts_each_case_once_per_version(world):
    """The PostgreSQL form (each case's distinct versions, counted) gives what COUNT(DISTINCT
    case) over the join gives, with several signals of one version on a case, a reader's
    report, and cases outside the spans."""
    _grow(world, 6)
    case = Case.objects.filter(opened_at__gte=PERIOD.start).order_by("id").last()
    SignalFactory(case=case, account=case.account, detector=True, detector_version="1.0")
    spans = [(PERIOD.start, at(10)), (at(12), PERIOD.end)]
    expected = {
        (r["detector_name"], r["detector_version"]): r["cases"]
        for r in Signal.objects.filter(selectors.in_spans("case__opened_at", spans), source=SignalSource.DETECTOR)
        .values("detector_name", "detector_version")
        .annotate(cases=Count("case", distinct=True))
    }
    counted = {(r["detector_name"], r["detector_version"]): r["cases"] for r in selectors._detector_cases_opened(spans)}
    assert counted == expected and sum(counted.values()) > len(counted)
    assert selectors._detector_cases_opened([]) == []
