"""Detector precision follows the final word: appeals overturned (action and follower
appeals), QA settlements and re-reviews revise the marks made at decision time, every
revision audited and none applied twice. Figures worked out by hand."""

import pytest
from django.urls import reverse
from django.utils import timezone

from appeals import services as appeals
from appeals.models import AppealStatus
from appeals.verdicts import revise_detector_verdicts_after_appeal
from cases.models import DetectorVerdict, EnforcementAction, Signal, VerdictSource
from cases.services import review
from cases.services.verdicts import supersede_earlier_verdicts
from moderation.models import AuditEvent
from supervision import selectors
from supervision import services as supervision
from supervision.models import QASample, Settlement
from tests.appeals.factories import purge_followers_of
from tests.cases.review_factories import detector_signal
from tests.factories import (
    AccountFactory,
    CaseFactory,
    QueueFactory,
    StoryFactory,
    appeals_reviewer,
    moderator,
    policy,
    supervisor,
)
from tests.supervision.factories import DetectorVerdictFactory, QASampleFactory

pytestmark = pytest.mark.django_db

CODE = "ai.paywalled_generated"
DETECTOR, VERSION = "ai-text-classifier", "9.9"


def _period():
    return selectors.Period.last_days(7)


def _row(name=DETECTOR, version=VERSION):
    return next(
        d for d in selectors.detector_measures(period=_period()) if (d["name"], d["version"]) == (name, version)
    )


def _decide(case, reviewer, *, violation=True, mark=True):
    case.refresh_from_db()
    review.claim_case(user=reviewer, case=case)
    marks = {s.pk: mark for s in case.signals.filter(source="detector")}
    return review.decide_case(
        case=case,
        user=reviewer,
        data=review.DecisionInput(
            is_violation=violation,
            policy=policy(CODE) if violation else None,
            outcomes=["paywall.remove"] if violation else [],
            rationale="Generated text, no disclosure." if violation else "The writer's own voice.",
            statement="Your story left the paywall: it is AI-generated." if violation else "",
            detector_marks=marks,
        ),
    )


def _flagged_story_case(queue):
    """A paywalled story the detector flagged, proposing the paywall's removal."""
    story = StoryFactory(author=AccountFactory(), is_paywalled=True)
    case = CaseFactory(account=story.author, story=story, policy_family="ai", policy=policy(CODE), queue=queue)
    detector_signal(case, detector_version=VERSION, proposed_outcomes=["paywall.remove"])
    return case


def _appeal(action, reviewer, run_on_commit, outcome):
    appeal = appeals.file_appeal(
        account=action.account, action=action, writer_statement="I wrote it myself.", contact_email="w@example.com"
    )
    appeals.claim_next_appeal(user=reviewer)
    with run_on_commit():
        appeals.decide_appeal(appeal=appeal, actor=reviewer, outcome=outcome, statement="Decided.")
    appeal.refresh_from_db()
    return appeal


@pytest.fixture
def story(run_on_commit):
    """Ten cases the detector flagged, all decided 'violation, detector right' and
    applied; then the final word arrives on five of them."""
    queue = QueueFactory()
    first, second, boss = moderator(username="first"), moderator(username="second"), supervisor(username="boss")
    reviewer = appeals_reviewer(username="appeals")
    cases = [_flagged_story_case(queue) for _ in range(10)]
    decisions = []
    for case in cases:
        with run_on_commit():
            decisions.append(_decide(case, first))
    actions = [EnforcementAction.objects.get(decision=d) for d in decisions]
    assert {a.status for a in actions} == {"applied"}

    overturned = [_appeal(actions[i], reviewer, run_on_commit, AppealStatus.OVERTURNED) for i in range(3)]
    upheld = _appeal(actions[3], reviewer, run_on_commit, AppealStatus.UPHELD)

    # Case 4: QA says no violation and the supervisor settles that QA was right.
    # Case 5: QA disagrees too, but the supervisor settles that the first decision stands.
    samples = []
    for i, settlement in ((4, Settlement.SECOND_RIGHT), (5, Settlement.FIRST_RIGHT)):
        QASampleFactory(decision=decisions[i])
        sample = supervision.claim_next_qa_sample(user=second)
        supervision.submit_qa_review(sample=sample, user=second, is_violation=False, policy=None, outcomes=[])
        supervision.settle_qa_disagreement(
            sample=QASample.objects.get(pk=sample.pk), actor=boss, settlement=settlement, note="Checked the drafts."
        )
        samples.append(sample)

    # Case 6: sent back to its queue; a fresh decision finds no violation, detector wrong.
    supervision.requeue_case(case=cases[6], actor=boss, reason="Release 9.9 under review")
    with run_on_commit():
        redecision = _decide(cases[6], second, violation=False, mark=False)
    return {
        "cases": cases,
        "decisions": decisions,
        "overturned": overturned,
        "upheld": upheld,
        "samples": samples,
        "redecision": redecision,
        "boss": boss,
    }


def test_precision_after_appeals_qa_and_re_review_is_the_hand_computed_figure(story):
    row = _row()
    # At decision time: ten marks "right", plus the re-review's "wrong" = 10 of 11.
    assert (row["marks"], row["right"]) == (11, 10)
    assert row["precision"] == pytest.approx(10 / 11)
    # Final word: one mark per signal (10); wrong: 3 overturned appeals, 1 QA settlement,
    # 1 re-review. Upheld appeal and "first decision stands" keep theirs: 5 of 10.
    assert (row["final_marks"], row["final_right"]) == (10, 5)
    assert row["final_precision"] == 0.5
    assert row["low_precision"] is True
    policy_row = next(p for p in selectors.policy_measures(period=_period()) if p["code"] == CODE)
    assert (policy_row["final_marks"], policy_row["final_right"], policy_row["final_precision"]) == (10, 5, 0.5)


def test_each_revision_names_its_source_and_is_audited(story):
    decisions = story["decisions"]
    by_decision = {v.decision_id: v for v in DetectorVerdict.objects.all()}
    for d in decisions[:3]:
        v = by_decision[d.pk]
        assert (v.was_correct, v.final_was_correct, v.final_source) == (True, False, VerdictSource.APPEAL)
        assert v.final_revised_at is not None
    for d in (decisions[3], decisions[5]):
        v = by_decision[d.pk]
        assert (v.final_was_correct, v.final_source, v.final_revised_at) == (True, VerdictSource.DECISION, None)
    qa = by_decision[decisions[4].pk]
    assert (qa.was_correct, qa.final_was_correct, qa.final_source) == (True, False, VerdictSource.QA)
    old, new = by_decision[decisions[6].pk], by_decision[story["redecision"].pk]
    assert (old.superseded_by_id, old.final_was_correct, old.final_source) == (new.pk, False, VerdictSource.RE_REVIEW)
    assert (new.superseded_by_id, new.was_correct, new.final_source) == (None, False, VerdictSource.DECISION)

    revised = AuditEvent.objects.filter(verb="detector_verdict.revised").order_by("id")
    assert [e.target_id for e in revised] == [str(by_decision[d.pk].pk) for d in (*decisions[:3], decisions[4])]
    assert [e.appeal_ref for e in revised[:3]] == [a.pk for a in story["overturned"]]
    assert revised[0].before == {"final_was_correct": True, "final_source": "decision"}
    assert revised[0].after == {"final_was_correct": False, "final_source": "appeal"}
    assert revised[3].actor == story["boss"] and revised[3].case_ref == decisions[4].case_id
    superseded = AuditEvent.objects.get(verb="detector_verdict.superseded")
    assert (superseded.target_id, superseded.after["superseded_by"]) == (str(old.pk), new.pk)


def test_revisions_are_idempotent(story):
    events = AuditEvent.objects.count()
    before = list(DetectorVerdict.objects.order_by("id").values())
    for appeal in story["overturned"]:
        assert revise_detector_verdicts_after_appeal(appeal=appeal, actor=appeal.decided_by) == []
    assert revise_detector_verdicts_after_appeal(appeal=story["upheld"], actor=story["upheld"].decided_by) == []
    assert supersede_earlier_verdicts(decision=story["redecision"], actor=story["boss"]) == []
    assert AuditEvent.objects.count() == events
    assert list(DetectorVerdict.objects.order_by("id").values()) == before


def test_partial_overturn_blames_only_the_signal_that_proposed_the_reversed_measure(run_on_commit):
    case = _flagged_story_case(QueueFactory())
    paywall = case.signals.get()
    limit = detector_signal(case, detector_version=VERSION, proposed_outcomes=["distribution.network_only"])
    reviewer = moderator()
    review.claim_case(user=reviewer, case=case)
    with run_on_commit():
        decision = review.decide_case(
            case=case,
            user=reviewer,
            data=review.DecisionInput(
                is_violation=True,
                policy=policy(CODE),
                outcomes=["paywall.remove", "distribution.network_only"],
                rationale="Generated.",
                statement="Generated text.",
                detector_marks={paywall.pk: True, limit.pk: True},
            ),
        )
    actions = {a.outcome: a for a in EnforcementAction.objects.filter(decision=decision)}
    assert {a.status for a in actions.values()} == {"applied"}
    appeal = appeals.file_appeal(
        account=case.account, action=actions["paywall.remove"], writer_statement="Mine.", contact_email="w@example.com"
    )
    judge = appeals_reviewer()
    appeals.claim_next_appeal(user=judge)
    with run_on_commit():
        appeals.decide_appeal(
            appeal=appeal,
            actor=judge,
            outcome=AppealStatus.PARTIALLY_OVERTURNED,
            statement="The paywall comes back; the distribution limit stays.",
            actions_to_reverse=[actions["paywall.remove"].pk],
        )
    final = dict(DetectorVerdict.objects.values_list("signal_id", "final_was_correct"))
    assert final == {paywall.pk: False, limit.pk: True}


def test_follower_appeal_judging_purged_followers_genuine_counts_against_the_detector(run_on_commit):
    writer = AccountFactory()
    purge = purge_followers_of(writer, genuine=2, fake=3)
    for action in purge.purge_actions.values():
        for signal in Signal.objects.filter(case=action.case, source="detector"):
            DetectorVerdictFactory(decision=action.decision, signal=signal, was_correct=True)
    appeal = appeals.file_appeal(
        account=writer,
        action=None,
        followers_dropped_on=timezone.localdate(),
        writer_statement="I know these readers.",
        contact_email=writer.email,
    )
    judge = appeals_reviewer()
    appeals.claim_next_appeal(user=judge)
    genuine = list(appeal.follower_reviews.filter(follower__in=purge.genuine).values_list("pk", flat=True))
    with run_on_commit():
        appeals.decide_appeal(
            appeal=appeal,
            actor=judge,
            outcome=AppealStatus.PARTIALLY_OVERTURNED,
            statement="Two of them are real readers.",
            followers_to_reinstate=genuine,
        )
    row = _row("follow-spam-detector", "1.4.0")
    # Five purges marked right when decided; two followers judged genuine on appeal: 3 of 5.
    assert (row["marks"], row["right"], row["precision"]) == (5, 5, 1.0)
    assert (row["final_marks"], row["final_right"], row["final_precision"]) == (5, 3, 0.6)
    assert row["low_precision"] is True
    wrong = set(DetectorVerdict.objects.filter(final_was_correct=False).values_list("signal__account", flat=True))
    assert wrong == {f.pk for f in purge.genuine}


def test_low_precision_flag_reads_the_final_figure_not_the_marks_as_made():
    signal_case = CaseFactory()
    for was_correct in (True, True, True, True):
        verdict = DetectorVerdictFactory(decision__case=signal_case, was_correct=was_correct)
        DetectorVerdict.objects.filter(pk=verdict.pk).update(
            final_was_correct=False, final_source=VerdictSource.APPEAL, final_revised_at=timezone.now()
        )
    row = next(d for d in selectors.detector_measures(period=_period()))
    assert (row["precision"], row["final_precision"], row["low_precision"]) == (1.0, 0.0, True)


def test_dashboards_show_both_figures(story, client):
    client.force_login(story["boss"])
    html = client.get(reverse("supervision:dashboard")).content.decode()
    row = html.split(f'data-detector="{DETECTOR}@{VERSION}"')[1].split("</tr>")[0]
    assert "10/11" in row and "5/10" in row and "low" in row
    detail = client.get(reverse("supervision:detector", args=[DETECTOR, VERSION])).content.decode()
    final = detail.split('id="precision-final"')[1].split("</p>")[0]
    at_decision = detail.split('id="precision-at-decision"')[1].split("</p>")[0]
    assert "50%" in final and "5 right of 10" in final and "below 70%" in final
    assert "91%" in at_decision and "10 right of 11" in at_decision
