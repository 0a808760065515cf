"""A small fixed world whose every report number is worked out by hand in the tests.

Period: Monday 2 March 2026 00:00 UTC to Monday 30 March 2026 00:00 UTC; "now" for
backlog and overdue checks is 26 March 12:00.

queue A (SLA 24 h)                          queue B (SLA 48 h)
c1 opened 2 Mar 10:00, decided +2 h         c4 opened 9 Mar 10:00, dismissed +6 h (auto origin)
c2 opened 3 Mar 09:00, dismissed +24 h      c5 opened 10 Mar, open, due 12 Mar (overdue)
c3 opened 5 Mar 08:00, decided +48 h (late) c8 opened 25 Mar, open, due 27 Mar (not yet)
c6 opened 24 Feb, decided 3 Mar (+168 h)    c10 opened 10 Feb, decided 11 Feb (outside)
c7 opened 20 Mar 12:00, open, due 21 Mar
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from appeals.models import Appeal, AppealKind, AppealStatus
from cases.models import ActionStatus, CaseStatus, ReversalCause, Signal
from moderation.models import SignalSource
from supervision.models import QAKind, QAStatus
from supervision.selectors import Period
from tests.factories import (
    AccountFactory,
    CaseFactory,
    DecisionFactory,
    EnforcementActionFactory,
    QueueFactory,
    SignalFactory,
    appeals_reviewer,
    moderator,
    policy,
    senior_moderator,
)
from tests.supervision.factories import DetectorVerdictFactory, GoldenCaseFactory, QASampleFactory


def at(day: int, hour: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


PERIOD = Period(at(2), at(30))
NOW = at(26, 12)
AI = "ai.paywalled_generated"
SPAM = "spam.scraped"


@dataclass
class World:
    users: dict
    queues: dict
    cases: dict
    decisions: dict
    actions: dict
    appeals: dict


def _case(queue, opened, *, code=None, family=None, decided=None, status=CaseStatus.OPEN, automated=False):
    kwargs = {
        "policy": policy(code) if code else None,
        "policy_family": family or (code.split(".")[0] if code else "ai"),
    }
    return CaseFactory(
        queue=queue,
        opened_at=opened,
        sla_due_at=opened + queue.sla,
        decided_at=decided,
        status=status,
        automated_origin=automated,
        **kwargs,
    )


def _signal(case, received, *, source=SignalSource.STAFF, version=None):
    extra = {"detector": True, "detector_version": version} if version else {"source": source}
    if source == SignalSource.READER_REPORT:
        extra["reporter"] = AccountFactory()
    signal = SignalFactory(case=case, account=case.account, observed_at=received, **extra)
    Signal.objects.filter(pk=signal.pk).update(received_at=received)
    return signal


def _decision(case, by, *, violation=True, handling=None, code=None):
    return DecisionFactory(
        case=case,
        decided_by=by,
        decided_at=case.decided_at,
        is_violation=violation,
        policy=policy(code) if code else (case.policy if violation else None),
        outcomes=list((policy(code) if code else case.policy).default_outcomes) if violation else [],
        handling_seconds=handling,
    )


def _applied(decision, outcome, applied_at, **kwargs):
    return EnforcementActionFactory(
        decision=decision, outcome=outcome, status=ActionStatus.APPLIED, applied_at=applied_at, **kwargs
    )


def _appeal(action, submitted, *, status=AppealStatus.SUBMITTED, decided=None, by=None):
    return Appeal.objects.create(
        account=action.account,
        kind=AppealKind.ACTION,
        action=action,
        writer_statement="I wrote this myself.",
        contact_email="writer@example.com",
        tracking_token=f"token-{action.pk}",
        status=status,
        submitted_at=submitted,
        decided_at=decided,
        decided_by=by,
    )


def build_world() -> World:
    mod1, mod2, mod3 = moderator(username="mod1"), moderator(username="mod2"), moderator(username="mod3")
    approver = senior_moderator(username="approver")
    qa = QueueFactory(slug="queue-a", name="Queue A", sla_hours=24, position=1)
    qb = QueueFactory(slug="queue-b", name="Queue B", sla_hours=48, position=2)

    c1 = _case(qa, at(2, 10), code=AI, decided=at(2, 12), status=CaseStatus.DECIDED, automated=True)
    c2 = _case(qa, at(3, 9), code=AI, decided=at(4, 9), status=CaseStatus.DISMISSED)
    c3 = _case(qa, at(5, 8), code=AI, decided=at(7, 8), status=CaseStatus.DECIDED)
    c4 = _case(qb, at(9, 10), code=AI, decided=at(9, 16), status=CaseStatus.DISMISSED, automated=True)
    c5 = _case(qb, at(10), family="ai")
    c6 = _case(qa, at(24, 0, month=2), code=SPAM, decided=at(3), status=CaseStatus.DECIDED)
    c7 = _case(qa, at(20, 12), code=SPAM)
    c8 = _case(qb, at(25), family="engagement")
    c10 = _case(qb, at(10, 0, month=2), family="engagement", decided=at(11, 0, month=2), status=CaseStatus.DECIDED)

    s1 = _signal(c1, at(2, 9), version="1.0")
    s2 = _signal(c2, at(3, 8), version="2.0")
    s3 = _signal(c3, at(5, 7), version="2.0")
    s4 = _signal(c4, at(9, 9), version="2.0")
    _signal(c5, at(10), source=SignalSource.READER_REPORT)
    _signal(c6, at(23, 0, month=2))
    _signal(c7, at(20, 11))
    _signal(c8, at(25))

    d1 = _decision(c1, mod1, handling=300)
    d2 = _decision(c2, mod1, violation=False, handling=600)
    d3 = _decision(c3, mod2, handling=900, code=AI)
    d3.needs_approval, d3.approved_by, d3.approved_at = True, approver, at(7, 9)
    d3.save()
    d4 = _decision(c4, mod2, violation=False, handling=120)
    d6 = _decision(c6, mod1, handling=1200)
    d10 = DecisionFactory(
        case=c10,
        decided_by=mod2,
        decided_at=c10.decided_at,
        policy=policy("engagement.ring"),
        outcomes=["followers.purge"],
        approved_by=approver,
        approved_at=c10.decided_at,
    )

    DetectorVerdictFactory(decision=d1, signal=s1, was_correct=True)
    DetectorVerdictFactory(decision=d2, signal=s2, was_correct=False)
    DetectorVerdictFactory(decision=d3, signal=s3, was_correct=True)
    DetectorVerdictFactory(decision=d4, signal=s4, was_correct=False)

    a1 = _applied(d1, "paywall.remove", at(2, 12))
    a1.status, a1.reversed_at, a1.reversal_cause = ActionStatus.REVERSED, at(8), ReversalCause.APPEAL
    a1.save()
    a3 = _applied(d3, "paywall.remove", at(7, 10), proposed_by_signal=s3)
    EnforcementActionFactory(decision=d3, outcome="partner.revoke", status=ActionStatus.REJECTED)
    a6 = _applied(d6, "story.remove", at(3, 1))
    a10 = _applied(d10, "followers.purge", at(11, 1, month=2))
    a10.status, a10.reversed_at, a10.reversal_cause = ActionStatus.REVERSED, at(15), ReversalCause.APPEAL
    a10.effect = {"removed_by": "action-x", "reversal": {"restored_edges": 37}}
    a10.save()

    reviewer = appeals_reviewer(username="appeals-reviewer")
    ap1 = _appeal(a1, at(5), status=AppealStatus.OVERTURNED, decided=at(8), by=reviewer)
    ap6 = _appeal(a6, at(10), status=AppealStatus.UPHELD, decided=at(11), by=reviewer)
    ap3 = _appeal(a3, at(20))

    QASampleFactory(
        decision=d1, status=QAStatus.AGREED, qa_reviewer=mod3, qa_decided_at=at(4), agrees=True, qa_is_violation=True
    )
    QASampleFactory(
        decision=d2,
        status=QAStatus.DISAGREED,
        qa_reviewer=mod3,
        qa_decided_at=at(5),
        agrees=False,
        qa_is_violation=True,
    )
    QASampleFactory(decision=d3)
    golden = GoldenCaseFactory(case=c6, expected_policy=policy(SPAM))
    for agrees in (True, False):
        QASampleFactory(
            kind=QAKind.GOLDEN,
            decision=None,
            golden=golden,
            case=c6,
            original_reviewer=mod1,
            status=QAStatus.AGREED if agrees else QAStatus.DISAGREED,
            qa_reviewer=mod3,
            qa_decided_at=at(10),
            agrees=agrees,
            qa_is_violation=True,
        )

    return World(
        users={"mod1": mod1, "mod2": mod2, "mod3": mod3, "approver": approver},
        queues={"a": qa, "b": qb},
        cases={"c1": c1, "c2": c2, "c3": c3, "c4": c4, "c5": c5, "c6": c6, "c7": c7, "c8": c8, "c10": c10},
        decisions={"d1": d1, "d2": d2, "d3": d3, "d4": d4, "d6": d6, "d10": d10},
        actions={"a1": a1, "a3": a3, "a6": a6, "a10": a10},
        appeals={"ap1": ap1, "ap3": ap3, "ap6": ap6},
    )
