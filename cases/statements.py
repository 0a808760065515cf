"""Statements of reasons: the letter a writer reads about a decision (the contents DSA
Art. 17 asks for). The policy's catalogue template gives the facts paragraph in the
rule's own words, filled with the case's facts (the story and its link, the signals by
kind with the dates we received them); the letter around it says what we decided and
for how long, the rule in plain words (once), how the case came to us, and how to
appeal and by when.

One composer serves the notice email, the reviewer's preview before submitting, and
the writer's appeal and status pages, so all three read the same text."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from cases.models import Case, Decision, EnforcementAction, Notice
from moderation.models import Outcome, Policy, SignalSource
from moderation.statement_templates import PLACEHOLDERS, fill, template_error

__all__ = ["PLACEHOLDERS", "template_error"]

WHAT_IT_CHANGES = {
    Outcome.DISTRIBUTION_NETWORK_ONLY: "The story is shown only to your followers and subscribers.",
    Outcome.DISTRIBUTION_NO_BOOST: "The story keeps its general distribution but will not be Boosted.",
    Outcome.DISTRIBUTION_GENERAL: "The story is back in general distribution.",
    Outcome.PAYWALL_REMOVE: "The story was taken out from behind the paywall, so it no longer earns.",
    Outcome.PARTNER_REVOKE: "Your Partner Program membership was revoked; your stories stop earning.",
    Outcome.PARTNER_EARNINGS_HOLD: "Your Partner Program earnings are withheld while the hold lasts; not lost.",
    Outcome.STORY_REMOVE: "The story was hidden from the platform. It is not deleted and can be restored.",
    Outcome.ACCOUNT_RESTRICT: "Your account is restricted: you cannot respond to stories or follow accounts.",
    Outcome.ACCOUNT_SUSPEND: "Your account is suspended; its follows and engagement stop counting.",
    Outcome.FOLLOWERS_PURGE: "The follows this account made were removed from the accounts it followed.",
    Outcome.WARNING: "This is a warning; nothing else changes on your account.",
}

# Signal kinds in the writer's words (never who reported, never a detector's name).
SIGNAL_WORDS = {
    SignalSource.READER_REPORT: ("report from a reader", "reports from readers"),
    SignalSource.SHOW_LESS: ("“Show less like this” from a reader", "“Show less like this” from readers"),
    SignalSource.DETECTOR: ("flag from our automated detection", "flags from our automated detection"),
    SignalSource.STAFF: ("report from our Trust & Safety staff", "reports from our Trust & Safety staff"),
}
SIGNAL_ORDER = [SignalSource.READER_REPORT, SignalSource.SHOW_LESS, SignalSource.STAFF, SignalSource.DETECTOR]

APPEAL_LINK_PREVIEW = "[the writer's own appeal link]"


def day(value: date | datetime) -> str:
    if isinstance(value, datetime):
        value = timezone.localtime(value).date()
    return f"{value:%-d %B %Y}"


def _days(dates: list[date]) -> str:
    first, last = min(dates), max(dates)
    if first == last:
        return f"on {day(first)}"
    return f"between {day(first)} and {day(last)}"


def _counted(n: int, words: tuple[str, str]) -> str:
    return f"a {words[0]}" if n == 1 else f"{n} {words[1]}"


def _joined(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def case_signals(case: Case) -> list[tuple[str, datetime]]:
    """(source, received_at) of the signals that count on the case (muted reporters' do not)."""
    return list(case.signals.filter(set_aside=False).order_by("received_at", "id").values_list("source", "received_at"))


def signals_phrase(signals: list[tuple[str, datetime]]) -> str:
    """“2 reports from readers (between 3 and 4 March 2026) and a flag from our
    automated detection (on 2 March 2026)”."""
    by_kind: dict[str, list[date]] = {}
    for source, received in signals:
        by_kind.setdefault(source, []).append(timezone.localtime(received).date())
    parts = [
        f"{_counted(len(by_kind[kind]), SIGNAL_WORDS[kind])} ({_days(by_kind[kind])})"
        for kind in SIGNAL_ORDER
        if kind in by_kind
    ]
    return _joined(parts) or "a report from our Trust & Safety staff"


def subject_phrase(case: Case) -> str:
    if case.story_id:
        link = f" ({case.story.url})" if case.story.url else ""
        return f"your story “{case.story.title}”{link}"
    return f"your account @{case.account.handle}"


def facts(case: Case, policy: Policy | None, signals: list[tuple[str, datetime]] | None = None) -> dict[str, str]:
    signals = case_signals(case) if signals is None else signals
    return {
        "handle": case.account.handle,
        "subject": subject_phrase(case),
        "story_title": f"“{case.story.title}”" if case.story_id else "your account",
        "story_link": case.story.url if case.story_id else "",
        "signals": signals_phrase(signals),
        "first_received": day(signals[0][1]) if signals else "",
        "policy_title": policy.title if policy else "",
        "policy_description": policy.description if policy else "",
    }


def render_facts(template: str, case: Case, policy: Policy | None) -> str:
    """The facts paragraph: the policy's template filled with the case's facts. A template
    that fails `template_error` is returned as written (forms refuse it earlier)."""
    return fill(template, facts(case, policy))


# --- the letter --------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One outcome as the writer reads it: what it changes and until when."""

    outcome: str
    ends_at: datetime | None = None

    @property
    def label(self) -> str:
        return Outcome(self.outcome).label

    @property
    def duration(self) -> str:
        if self.ends_at:
            return f"until {day(self.ends_at)}"
        if self.outcome == Outcome.WARNING:
            return "no duration"
        return "until reversed on appeal or review"

    def line(self) -> str:
        return f"- {self.label}: {WHAT_IT_CHANGES.get(self.outcome, '')} Duration: {self.duration}."


def measures_for(outcomes: Iterable[str], *, hold_days: int, now: datetime) -> list[Measure]:
    """The measures a decision not yet taken would bring (the preview): a hold ends after its days."""
    return [
        Measure(o, now + timedelta(days=hold_days) if o == Outcome.PARTNER_EARNINGS_HOLD else None) for o in outcomes
    ]


def measures_of(actions: Iterable[EnforcementAction]) -> list[Measure]:
    return [Measure(a.outcome, a.ends_at) for a in actions]


def origin(case: Case, signals: list[tuple[str, datetime]]) -> tuple[str, bool]:
    """How the case came to us, and whether automated means detected it."""
    sources = {s for s, _ in signals}
    automated = SignalSource.DETECTOR in sources
    if sources & {SignalSource.READER_REPORT, SignalSource.SHOW_LESS}:
        text = "Readers reported it to us" + (", and our automated detection flagged it too." if automated else ".")
    elif automated or case.automated_origin:
        text = "Our own automated detection flagged it; no reader reported it."
        automated = True
    else:
        text = "Our Trust & Safety staff found it."
    return text, automated


def appeal_window() -> timedelta:
    return timedelta(days=settings.MODERATION["APPEAL_WINDOW_DAYS"])


def compose_statement(
    *,
    case: Case,
    policy: Policy,
    measures: list[Measure],
    facts_text: str,
    deadline: datetime,
    link: str | None,
    signals: list[tuple[str, datetime]] | None = None,
) -> str:
    """The statement of reasons, greeting excluded. `link` None: the writer is already on
    the appeal pages, so the letter names the deadline without the link."""
    signals = case_signals(case) if signals is None else signals
    how, automated = origin(case, signals)
    received = signals_phrase(signals)
    facts_text = facts_text.strip()
    rule = f"The rule: {policy.title}."
    if policy.description and policy.description not in facts_text:
        rule += f" {policy.description}"
    if link:
        appeal = (
            f"How to appeal: if you think we got this wrong, you can appeal until {day(deadline)} at\n{link}\n"
            "You do not need to sign in. A different person from the one who decided will review your appeal."
        )
    else:
        appeal = (
            f"How to appeal: you can appeal until {day(deadline)}. You do not need to sign in. "
            "A different person from the one who decided will review your appeal."
        )
    return "\n\n".join(
        [
            f"We reviewed {subject_phrase(case)} and decided to take the following measures:\n"
            + "\n".join(m.line() for m in measures),
            f"Why (the facts we relied on):\n{facts_text}",
            rule,
            f"How it came to us: {how}" + ("" if received in facts_text else f" We received {received}."),
            "Automated means: "
            + (
                "automated tools were used to detect this content. "
                if automated
                else "no automated tools were used to detect this content. "
            )
            + "The decision itself was made by a person on our Trust & Safety team.",
            appeal,
        ]
    )


def greeting(case: Case) -> str:
    return f"Hello {case.account.display_name or '@' + case.account.handle},"


def notice_subject(case: Case, policy: Policy) -> str:
    return f"Decision on {'your story' if case.story_id else 'your account'}: {policy.title}"


def notice_actions(decision: Decision) -> list[EnforcementAction]:
    """What the decision's notice lists: its own actions and those of an earlier decision
    on the case that it keeps in force."""
    own = list(decision.actions.exclude(status="rejected").order_by("id"))
    kept = list(
        EnforcementAction.objects.filter(
            case_id=decision.case_id, status__in=["approved", "applied", "failed"], outcome__in=decision.outcomes
        )
        .exclude(decision_id=decision.pk)
        .exclude(decision__isnull=True)
        .order_by("id")
    )
    return own + kept


def statement_for_notice(notice: Notice, *, link: str | None = None) -> str:
    """The statement a writer's decision notice carries, for the writer's pages. Empty for
    notices that carry none (a purge's followers notice, a reversal)."""
    decision = notice.decision
    if decision is None or not decision.is_violation or decision.policy is None or notice.appeal_deadline is None:
        return ""
    return compose_statement(
        case=decision.case,
        policy=decision.policy,
        measures=measures_of(notice_actions(decision)),
        facts_text=decision.statement,
        deadline=notice.appeal_deadline,
        link=link,
    )


@dataclass
class Preview:
    subject: str
    body: str
    deadline: datetime
    problems: list[str]


def preview(
    *, case: Case, policy: Policy, outcomes: list[str], facts_text: str, hold_days: int, now: datetime | None = None
) -> Preview:
    """The notice exactly as the writer would get it if the decision were final now (the
    appeal link is made when the notice is stored, so the preview shows where it goes)."""
    now = now or timezone.now()
    problems = []
    bad = [o for o in outcomes if o not in policy.allowed_outcomes]
    if bad:
        problems.append(f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not allowed under {policy.code}.")
    if not outcomes:
        problems.append("Choose at least one outcome.")
    if not facts_text.strip():
        problems.append("The statement is empty: the writer would read no facts.")
    deadline = now + appeal_window()
    body = "\n\n".join(
        [
            greeting(case),
            compose_statement(
                case=case,
                policy=policy,
                measures=measures_for(outcomes, hold_days=hold_days, now=now),
                facts_text=facts_text,
                deadline=deadline,
                link=APPEAL_LINK_PREVIEW,
            ),
        ]
    )
    return Preview(subject=notice_subject(case, policy), body=body, deadline=deadline, problems=problems)
