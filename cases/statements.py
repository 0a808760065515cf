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
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext_lazy

from cases.models import Case, Decision, EnforcementAction, Notice
from moderation.i18n import in_writer_language, policy_text, writer_date, writer_language
from moderation.models import Outcome, Policy, SignalSource
from moderation.statement_templates import PLACEHOLDERS, fill, template_error

__all__ = ["PLACEHOLDERS", "template_error"]

# The measures' names as writers read them (the Outcome labels stay the staff's English).
OUTCOME_NAMES = {
    Outcome.DISTRIBUTION_NETWORK_ONLY: gettext_lazy("Network-only distribution"),
    Outcome.DISTRIBUTION_NO_BOOST: gettext_lazy("Never Boosted"),
    Outcome.DISTRIBUTION_GENERAL: gettext_lazy("Restore general distribution"),
    Outcome.PAYWALL_REMOVE: gettext_lazy("Remove from paywall"),
    Outcome.PARTNER_REVOKE: gettext_lazy("Revoke Partner Program membership"),
    Outcome.PARTNER_EARNINGS_HOLD: gettext_lazy("Hold Partner Program earnings"),
    Outcome.STORY_REMOVE: gettext_lazy("Remove story"),
    Outcome.ACCOUNT_RESTRICT: gettext_lazy("Restrict account"),
    Outcome.ACCOUNT_SUSPEND: gettext_lazy("Suspend account"),
    Outcome.FOLLOWERS_PURGE: gettext_lazy("Purge fake follows"),
    Outcome.WARNING: gettext_lazy("Warning only"),
}


def outcome_name(outcome: str) -> str:
    """A measure's name in the active language."""
    return str(OUTCOME_NAMES.get(outcome, outcome))


WHAT_IT_CHANGES = {
    Outcome.DISTRIBUTION_NETWORK_ONLY: gettext_lazy("The story is shown only to your followers and subscribers."),
    Outcome.DISTRIBUTION_NO_BOOST: gettext_lazy("The story keeps its general distribution but will not be Boosted."),
    Outcome.DISTRIBUTION_GENERAL: gettext_lazy("The story is back in general distribution."),
    Outcome.PAYWALL_REMOVE: gettext_lazy("The story was taken out from behind the paywall, so it no longer earns."),
    Outcome.PARTNER_REVOKE: gettext_lazy("Your Partner Program membership was revoked; your stories stop earning."),
    Outcome.PARTNER_EARNINGS_HOLD: gettext_lazy(
        "Your Partner Program earnings are withheld while the hold lasts; not lost."
    ),
    Outcome.STORY_REMOVE: gettext_lazy(
        "The story was hidden from the platform. It is not deleted and can be restored."
    ),
    Outcome.ACCOUNT_RESTRICT: gettext_lazy(
        "Your account is restricted: you cannot respond to stories or follow accounts."
    ),
    Outcome.ACCOUNT_SUSPEND: gettext_lazy("Your account is suspended; its follows and engagement stop counting."),
    Outcome.FOLLOWERS_PURGE: gettext_lazy("The follows this account made were removed from the accounts it followed."),
    Outcome.WARNING: gettext_lazy("This is a warning; nothing else changes on your account."),
}

# Signal kinds in the writer's words (never who reported, never a detector's name).
SIGNAL_WORDS = {
    SignalSource.READER_REPORT: ngettext_lazy("a report from a reader", "%(count)s reports from readers", "count"),
    SignalSource.SHOW_LESS: ngettext_lazy(
        "a “Show less like this” from a reader", "%(count)s “Show less like this” from readers", "count"
    ),
    SignalSource.DETECTOR: ngettext_lazy(
        "a flag from our automated detection", "%(count)s flags from our automated detection", "count"
    ),
    SignalSource.STAFF: ngettext_lazy(
        "a report from our Trust & Safety staff", "%(count)s reports from our Trust & Safety staff", "count"
    ),
}
SIGNAL_ORDER = [SignalSource.READER_REPORT, SignalSource.SHOW_LESS, SignalSource.STAFF, SignalSource.DETECTOR]

APPEAL_LINK_PREVIEW = "[the writer's own appeal link]"  # staff read it, in the preview only


def day(value: date | datetime) -> str:
    if isinstance(value, datetime):
        value = timezone.localtime(value).date()
    return writer_date(value)


def _days(dates: list[date]) -> str:
    first, last = min(dates), max(dates)
    if first == last:
        return _("on %(date)s") % {"date": day(first)}
    return _("between %(first)s and %(last)s") % {"first": day(first), "last": day(last)}


def _counted(n: int, words) -> str:
    return words % {"count": n}


def _joined(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return _("%(first)s and %(last)s") % {"first": _(", ").join(parts[:-1]), "last": parts[-1]}


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
        _("%(signals)s (%(when)s)")
        % {"signals": _counted(len(by_kind[kind]), SIGNAL_WORDS[kind]), "when": _days(by_kind[kind])}
        for kind in SIGNAL_ORDER
        if kind in by_kind
    ]
    return _joined(parts) or _counted(1, SIGNAL_WORDS[SignalSource.STAFF])


def subject_phrase(case: Case) -> str:
    if case.story_id:
        link = f" ({case.story.url})" if case.story.url else ""
        return _("your story “%(title)s”") % {"title": case.story.title} + link
    return _("your account @%(handle)s") % {"handle": case.account.handle}


def facts(case: Case, policy: Policy | None, signals: list[tuple[str, datetime]] | None = None) -> dict[str, str]:
    signals = case_signals(case) if signals is None else signals
    return {
        "handle": case.account.handle,
        "subject": subject_phrase(case),
        "story_title": _("“%(title)s”") % {"title": case.story.title} if case.story_id else _("your account"),
        "story_link": case.story.url if case.story_id else "",
        "signals": signals_phrase(signals),
        "first_received": day(signals[0][1]) if signals else "",
        "policy_title": policy_text(policy).title if policy else "",
        "policy_description": policy_text(policy).description if policy else "",
    }


def render_facts(
    template: str, case: Case, policy: Policy | None, signals: list[tuple[str, datetime]] | None = None
) -> str:
    """The facts paragraph: the policy's template filled with the case's facts. A template
    that fails `template_error` is returned as written (forms refuse it earlier). Pass
    `signals` (from `case_signals`) when filling many templates for one case."""
    return fill(template, facts(case, policy, signals))


# --- the letter --------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One outcome as the writer reads it: what it changes and until when."""

    outcome: str
    ends_at: datetime | None = None

    @property
    def label(self) -> str:
        return outcome_name(self.outcome)

    @property
    def duration(self) -> str:
        if self.ends_at:
            return _("until %(date)s") % {"date": day(self.ends_at)}
        if self.outcome == Outcome.WARNING:
            return _("no duration")
        return _("until reversed on appeal or review")

    def line(self) -> str:
        return _("- %(measure)s: %(what_it_changes)s Duration: %(duration)s.") % {
            "measure": self.label,
            "what_it_changes": WHAT_IT_CHANGES.get(self.outcome, ""),
            "duration": self.duration,
        }


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
        if automated:
            text = _("Readers reported it to us, and our automated detection flagged it too.")
        else:
            text = _("Readers reported it to us.")
    elif automated or case.automated_origin:
        text = _("Our own automated detection flagged it; no reader reported it.")
        automated = True
    else:
        text = _("Our Trust & Safety staff found it.")
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
    words = policy_text(policy)
    rule = _("The rule: %(title)s.") % {"title": words.title}
    if words.description and words.description not in facts_text:
        rule += f" {words.description}"
    others = _("You do not need to sign in. A different person from the one who decided will review your appeal.")
    if link:
        appeal = (
            _("How to appeal: if you think we got this wrong, you can appeal until %(date)s at")
            % {"date": day(deadline)}
            + f"\n{link}\n"
            + others
        )
    else:
        appeal = _("How to appeal: you can appeal until %(date)s.") % {"date": day(deadline)} + " " + others
    came = _("How it came to us: %(origin)s") % {"origin": how}
    if received not in facts_text:
        came += " " + _("We received %(signals)s.") % {"signals": received}
    if automated:
        means = _("Automated means: automated tools were used to detect this content.")
    else:
        means = _("Automated means: no automated tools were used to detect this content.")
    return "\n\n".join(
        [
            _("We reviewed %(subject)s and decided to take the following measures:") % {"subject": subject_phrase(case)}
            + "\n"
            + "\n".join(m.line() for m in measures),
            _("Why (the facts we relied on):") + f"\n{facts_text}",
            rule,
            came,
            means + " " + _("The decision itself was made by a person on our Trust & Safety team."),
            appeal,
        ]
    )


def greeting(case: Case) -> str:
    return _("Hello %(name)s,") % {"name": case.account.display_name or "@" + case.account.handle}


def notice_subject(case: Case, policy: Policy) -> str:
    title = policy_text(policy).title
    if case.story_id:
        return _("Decision on your story: %(rule)s") % {"rule": title}
    return _("Decision on your account: %(rule)s") % {"rule": title}


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
    language: str = "en"  # the writer's, which subject and body are written in


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
    with in_writer_language(case.account):  # staff read it as the writer will
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
        subject = notice_subject(case, policy)
    language = writer_language(case.account)
    return Preview(subject=subject, body=body, deadline=deadline, problems=problems, language=language)
