"""Every dashboard and report number, from the fixed world in world.py, checked exactly."""

import pytest

from supervision import selectors
from supervision.aggregates import PercentileCont
from tests.supervision.world import AI, NOW, PERIOD, SPAM, build_world

pytestmark = pytest.mark.django_db

H = 3600


@pytest.fixture
def world():
    return build_world()


def test_queue_measures(world):
    rows = {r["queue"].slug: r for r in selectors.queue_measures(period=PERIOD, now=NOW)}
    a, b = rows["queue-a"], rows["queue-b"]
    # A: inflow c1 c2 c3 c7; closed in period c1 2h, c2 24h, c3 48h, c6 168h.
    assert (a["inflow"], a["backlog"], a["decided"]) == (4, 1, 4)
    assert a["median_seconds"] == pytest.approx(36 * H)
    assert a["p90_seconds"] == pytest.approx(132 * H)  # 48 + 0.7 × (168 − 48)
    assert (a["late_decisions"], a["overdue_open"], a["sla_breaches"]) == (2, 1, 3)
    # B: inflow c4 c5 c8; only c4 closed (6h); c5 overdue, c8 not yet.
    assert (b["inflow"], b["backlog"], b["decided"]) == (3, 2, 1)
    assert b["median_seconds"] == pytest.approx(6 * H)
    assert b["p90_seconds"] == pytest.approx(6 * H)
    assert (b["late_decisions"], b["overdue_open"], b["sla_breaches"]) == (0, 1, 1)


def test_queue_weekly_inflow(world):
    rows = {r["queue"].slug: r for r in selectors.queue_measures(period=PERIOD, now=NOW)}
    weeks = {w["week"]: w["inflow"] for w in rows["queue-a"]["weekly"]}
    assert len(weeks) == selectors.TREND_WEEKS
    assert weeks["2026-03-02"] == 3  # c1 c2 c3
    assert weeks["2026-03-16"] == 1  # c7
    assert weeks["2026-02-23"] == 1  # c6, before the period but inside the trend window
    assert list(weeks)[-1] == "2026-03-23"


def test_reviewer_measures(world):
    rows = {r["reviewer"].username: r for r in selectors.reviewer_measures(period=PERIOD)}
    assert list(rows) == ["mod1", "mod2", "mod3"]
    mod1, mod2, mod3 = rows["mod1"], rows["mod2"], rows["mod3"]
    assert mod1["decisions"] == 3
    assert mod1["median_handling_seconds"] == pytest.approx(600)
    assert (mod1["appealed"], mod1["overturned"], mod1["overturn_rate"]) == (2, 1, 0.5)
    assert (mod1["qa_reviewed"], mod1["qa_agreed"], mod1["qa_agreement"]) == (2, 1, 0.5)
    assert mod2["decisions"] == 2
    assert mod2["median_handling_seconds"] == pytest.approx(510)
    assert (mod2["appealed"], mod2["overturn_rate"], mod2["qa_reviewed"], mod2["qa_agreement"]) == (0, None, 0, None)
    assert mod3["decisions"] == 0
    assert (mod3["golden_answered"], mod3["golden_right"], mod3["golden_accuracy"]) == (2, 1, 0.5)


def test_policy_measures(world):
    rows = {r["code"]: r for r in selectors.policy_measures(period=PERIOD)}
    assert sorted(rows) == ["ai.*", AI, "engagement.*", SPAM]
    assert (rows[AI]["marks"], rows[AI]["right"], rows[AI]["precision"]) == (4, 2, 0.5)
    assert (rows[AI]["applied"], rows[AI]["overturned"], rows[AI]["overturn_share"]) == (2, 1, 0.5)
    assert rows[AI]["cases"] == 4
    assert (rows[SPAM]["applied"], rows[SPAM]["overturned"], rows[SPAM]["cases"]) == (1, 0, 1)
    assert rows[SPAM]["precision"] is None
    assert rows["ai.*"]["cases"] == rows["engagement.*"]["cases"] == 1


def test_detector_measures_single_out_the_bad_release(world):
    rows = {(r["name"], r["version"]): r for r in selectors.detector_measures(period=PERIOD)}
    good, bad = rows[("ai-text-classifier", "1.0")], rows[("ai-text-classifier", "2.0")]
    assert (good["marks"], good["right"], good["precision"], good["low_precision"]) == (1, 1, 1.0, False)
    assert (good["cases"], good["applied"], good["overturned"], good["overturn_share"]) == (1, 1, 1, 1.0)
    assert (bad["marks"], bad["right"], bad["low_precision"]) == (3, 1, True)
    assert bad["precision"] == pytest.approx(1 / 3)
    assert (bad["cases"], bad["applied"], bad["overturned"], bad["overturn_share"]) == (3, 1, 0, 0.0)
    weekly = {w["week"]: w for w in bad["weekly"]}
    assert (weekly["2026-03-02"]["marks"], weekly["2026-03-02"]["right"]) == (2, 1)
    assert weekly["2026-03-02"]["precision"] == 0.5
    assert (weekly["2026-03-09"]["marks"], weekly["2026-03-09"]["precision"]) == (1, 0.0)
    assert weekly["2026-03-16"]["precision"] is None


def test_automation_shares(world):
    shares = selectors.automation_shares(period=PERIOD)
    assert shares["signals"] == {"total": 7, "automated": 4, "manual": 3, "share": 4 / 7}
    assert shares["cases"] == {"total": 7, "automated": 2, "manual": 5, "share": 2 / 7}
    # a1 (case opened by detectors) and a3 (proposed by a detector signal); a6 manual.
    assert shares["actions"] == {"total": 3, "automated": 2, "manual": 1, "share": 2 / 3}


def test_transparency_report(world):
    report = selectors.transparency_report(period=PERIOD)
    assert {n["source"]: n["count"] for n in report["notices_received"]} == {
        "reader_report": 1,
        "show_less": 0,
        "detector": 4,
        "staff": 2,
    }
    assert report["notices_total"] == 7
    assert [(r["policy"], r["outcome"], r["decisions"]) for r in report["decisions_by_policy_and_outcome"]] == [
        (AI, "no_violation", 2),
        (AI, "paywall.remove", 2),
        (SPAM, "story.remove", 1),
    ]
    assert report["decisions"] == {"total": 5, "involving_automated_means": 4, "automated_share": 0.8}
    assert report["time_to_decision"]["cases_closed"] == 5
    assert report["time_to_decision"]["median_seconds"] == pytest.approx(24 * H)
    appeals = report["appeals"]
    assert (appeals["received"], appeals["upheld"], appeals["overturned"], appeals["partially_overturned"]) == (
        3,
        1,
        1,
        0,
    )
    assert appeals["median_seconds"] == pytest.approx(48 * H)
    assert (report["followers_restored"], report["follower_purges_reversed"]) == (37, 1)


def test_transparency_rows_flatten_every_number(world):
    rows = selectors.transparency_rows(selectors.transparency_report(period=PERIOD))
    assert ("notices_received", "detector", "Detector", 4) in rows
    assert ("decisions_by_policy_and_outcome", AI, "paywall.remove", 2) in rows
    assert ("appeals", "median_seconds", "", 172800.0) in rows
    assert ("followers_restored", "follows", "", 37) in rows


def test_percentile_matches_postgres_interpolation(world):
    from cases.models import Decision

    result = Decision.objects.aggregate(
        p0=PercentileCont("handling_seconds", 0),
        p25=PercentileCont("handling_seconds", 0.25),
        p50=PercentileCont("handling_seconds", 0.5),
        p100=PercentileCont("handling_seconds", 1),
    )
    # handling: 120, 300, 600, 900, 1200 (d10 has none)
    assert result == {"p0": 120.0, "p25": 300.0, "p50": 600.0, "p100": 1200.0}


def test_empty_period_gives_no_numbers_rather_than_errors(db):
    report = selectors.transparency_report(period=PERIOD)
    assert report["decisions"]["automated_share"] is None
    assert report["time_to_decision"]["median_seconds"] is None
    assert selectors.reviewer_measures(period=PERIOD) == []
    assert selectors.detector_measures(period=PERIOD) == []


def test_reviewer_overturn_rate_counts_follower_appeals_against_the_purges_behind_them(world):
    from appeals.models import Appeal, AppealKind, AppealStatus, FollowerVerdict, PurgedFollowerReview
    from tests.factories import AccountFactory, CaseFactory, DecisionFactory, EnforcementActionFactory, policy
    from tests.supervision.world import at

    mod2, writer = world.users["mod2"], AccountFactory()
    purges = []
    for day in (12, 13):
        decision = DecisionFactory(
            case=CaseFactory(policy_family="engagement", policy=policy("engagement.ring")),
            decided_by=mod2,
            decided_at=at(day),
            policy=policy("engagement.ring"),
            outcomes=["followers.purge"],
            needs_approval=True,
            approved_by=world.users["approver"],
            approved_at=at(day),
        )
        purges.append(
            EnforcementActionFactory(decision=decision, outcome="followers.purge", status="applied", applied_at=at(day))
        )

    def follower_appeal(status, verdicts):
        appeal = Appeal.objects.create(
            account=writer,
            kind=AppealKind.FOLLOWERS,
            writer_statement="My followers dropped.",
            contact_email="w@example.com",
            tracking_token=f"followers-{status}",
            status=status,
            submitted_at=at(14),
            decided_at=at(15),
            decided_by=world.users["approver"],
        )
        for purge, verdict in zip(purges, verdicts, strict=True):
            PurgedFollowerReview.objects.create(
                appeal=appeal,
                follower=purge.account,
                purge_action=purge,
                suggested_verdict=FollowerVerdict.KEEP_PURGED,
                verdict=verdict,
            )

    # Partly overturned: the first purge's follower was genuine, the second's fake.
    follower_appeal(AppealStatus.PARTIALLY_OVERTURNED, [FollowerVerdict.REINSTATE, FollowerVerdict.KEEP_PURGED])
    # Upheld later by someone else: both purges appealed again, neither overturned.
    follower_appeal(AppealStatus.UPHELD, [FollowerVerdict.KEEP_PURGED, FollowerVerdict.KEEP_PURGED])
    rows = {r["reviewer"].username: r for r in selectors.reviewer_measures(period=PERIOD)}
    assert (rows["mod2"]["appealed"], rows["mod2"]["overturned"], rows["mod2"]["overturn_rate"]) == (2, 1, 0.5)
    assert (rows["mod1"]["appealed"], rows["mod1"]["overturned"]) == (2, 1)  # action appeals, unchanged


def test_transparency_counts_only_decisions_that_took_effect(world):
    from tests.factories import CaseFactory, DecisionFactory, EnforcementActionFactory, policy, senior_moderator
    from tests.supervision.world import at

    for rejected in (False, True):
        case = CaseFactory(policy=policy(AI), opened_at=at(11), sla_due_at=at(12))
        decision = DecisionFactory(
            case=case,
            decided_by=world.users["mod1"],
            decided_at=at(12),
            policy=policy(AI),
            outcomes=["paywall.remove"],
            needs_approval=True,
            rejected_by=senior_moderator() if rejected else None,
            rejection_note="Not borne out." if rejected else "",
        )
        EnforcementActionFactory(
            decision=decision, outcome="paywall.remove", status="rejected" if rejected else "awaiting_approval"
        )
    report = selectors.transparency_report(period=PERIOD)
    assert [(r["policy"], r["outcome"], r["decisions"]) for r in report["decisions_by_policy_and_outcome"]] == [
        (AI, "no_violation", 2),
        (AI, "paywall.remove", 2),
        (SPAM, "story.remove", 1),
    ]
    assert report["decisions"] == {"total": 5, "involving_automated_means": 4, "automated_share": 0.8}
