"""Notices sent when a case is decided: the statement of reasons to the writer (the
contents DSA Art. 17 asks for) and an outcome note to readers whose report led to
the case. Each is stored as a `Notice` and emailed after commit.

The writer's appeal link carries a signed, salted token naming the notice; it is
valid for `MODERATION["APPEAL_WINDOW_DAYS"]` and served by the appeals app.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

import cases.review_audit_verbs  # noqa: F401
from cases import statements
from cases.models import Decision, EnforcementAction, Notice, PurgeNoticeItem
from cases.selectors.strikes import writer_strikes_text
from moderation.audit import record_event, register_verb
from moderation.i18n import in_writer_language, policy_text, writer_date
from moderation.jobs import enqueue
from moderation.models import Outcome, SignalSource

WHAT_IT_CHANGES = statements.WHAT_IT_CHANGES
OUTCOME_NAMES = statements.OUTCOME_NAMES
outcome_name = statements.outcome_name

APPEAL_TOKEN_SALT = "cases.notice.appeal"

register_verb("notice.followers_removed_sent", "{actor} told a writer that purges removed followers: {target}")


def appeal_window() -> timedelta:
    return timedelta(days=settings.MODERATION["APPEAL_WINDOW_DAYS"])


def make_appeal_token(notice: Notice) -> str:
    return signing.dumps({"notice": notice.pk}, salt=APPEAL_TOKEN_SALT, compress=True)


def read_appeal_token(token: str) -> int:
    """The notice id the token names. Raises `signing.SignatureExpired` after the appeal
    window and `signing.BadSignature` for anything forged or mangled."""
    data = signing.loads(token, salt=APPEAL_TOKEN_SALT, max_age=appeal_window())
    return int(data["notice"])


def appeal_link(notice: Notice) -> str:
    return f"{settings.SITE_URL}/appeal/notice/{make_appeal_token(notice)}/"


def _origin(case) -> tuple[str, bool]:
    return statements.origin(case, statements.case_signals(case))


def _writer_body(decision: Decision, actions: list[EnforcementAction], deadline, link: str) -> str:
    return "\n\n".join(
        [
            statements.greeting(decision.case),
            statements.compose_statement(
                case=decision.case,
                policy=decision.policy,
                measures=statements.measures_of(actions),
                facts_text=decision.statement,
                deadline=deadline,
                link=link,
            ),
            writer_strikes_text(account_id=decision.case.account_id),
        ]
    )


def _hello(account) -> str:
    return _("Hello %(name)s,") % {"name": account.display_name or "@" + account.handle}


def _reporter_body(decision: Decision, reporter) -> str:
    case = decision.case
    what = _("the account you reported")
    if case.story_id:
        what = _("the story “%(title)s”") % {"title": case.story.title}
    if decision.is_violation:
        result = _(
            "We found that it breaks our rule on “%(rule)s” and took action. "
            "For the writer's privacy we do not share the details."
        ) % {"rule": policy_text(decision.policy).title}
    else:
        result = _("We found that it does not break our rules, so we took no action.")
    return "\n\n".join(
        [
            _hello(reporter),
            _("Thank you for your report about %(what)s.") % {"what": what} + " " + result,
            _("Reports like yours help keep the platform honest."),
        ]
    )


def write_decision_notices(*, decision: Decision, actor) -> list[Notice]:
    """Store the notices for a final decision (in its transaction) and email them after commit."""
    from cases import jobs

    case = decision.case
    now = timezone.now()
    notices: list[Notice] = []
    with transaction.atomic():
        if decision.is_violation:
            actions = statements.notice_actions(decision)
            automated = _origin(case)[1]
            deadline = now + appeal_window()
            notice = Notice(
                case=case,
                decision=decision,
                recipient_kind=Notice.Recipient.WRITER,
                account=case.account,
                # The notice carries an appeal link: never to an email the platform has not confirmed.
                email="" if case.account.facts_pending else case.account.email,
                subject="(written below)",
                body="(written below)",
                automated_detection=automated,
                appeal_deadline=deadline,
                sent_at=now,
            )
            notice.full_clean()
            notice.save()
            with in_writer_language(case.account):
                notice.subject = statements.notice_subject(case, decision.policy)
                notice.body = _writer_body(decision, actions, deadline, appeal_link(notice))
            notice.save(update_fields=["subject", "body"])
            notices.append(notice)
        reporters = {
            s.reporter
            for s in case.signals.filter(source=SignalSource.READER_REPORT, set_aside=False).select_related("reporter")
        }
        for reporter in sorted(reporters, key=lambda r: r.pk):
            with in_writer_language(reporter):
                subject, body = _("The outcome of your report"), _reporter_body(decision, reporter)
            notice = Notice(
                case=case,
                decision=decision,
                recipient_kind=Notice.Recipient.REPORTER,
                account=reporter,
                email=reporter.email,
                subject=subject,
                body=body,
                sent_at=now,
            )
            notice.full_clean()
            notice.save()
            notices.append(notice)
        for notice in notices:
            record_event(
                actor=actor,
                verb="notice.issued",
                target=notice,
                after={"recipient": notice.recipient_kind, "email": bool(notice.email)},
                case_ref=case.pk,
            )
            if notice.email:
                enqueue(jobs.send_notice_job, notice.pk, queue="email")
    return notices


def email_notice(*, notice_id: int) -> bool:
    return deliver_notice(notice_id=notice_id, send=lambda n: send_mail(n.subject, n.body, None, [n.email]))


def deliver_notice(*, notice_id: int, send: Callable[[Notice], object]) -> bool:
    """Email a stored notice once, from its job. The attempt is recorded before the
    backend is called and the notice is marked emailed (audit `notice.sent`) only after
    the backend accepted it, so a marked notice has left; a failure raises, and the
    outbox retries the job. The job's lease keeps two workers from sending at once;
    only a crash between the send and the mark can send twice. True if sent now."""
    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(pk=notice_id).first()
        if notice is None or notice.emailed_at or not notice.email:
            return False
        Notice.objects.filter(pk=notice_id).update(
            email_attempts=F("email_attempts") + 1, email_attempted_at=timezone.now()
        )
    send(notice)
    with transaction.atomic():
        now = timezone.now()
        if not Notice.objects.filter(pk=notice_id, emailed_at__isnull=True).update(emailed_at=now):
            return False
        record_event(
            actor=None,
            verb="notice.sent",
            target=notice,
            after={"recipient": notice.recipient_kind, "emailed_at": now.isoformat()},
            case_ref=notice.case_id,
        )
    return True


UNDONE_TEXT = {
    Outcome.DISTRIBUTION_NETWORK_ONLY: gettext_lazy("The limit on the story's distribution is lifted."),
    Outcome.DISTRIBUTION_NO_BOOST: gettext_lazy("The story may be Boosted again."),
    Outcome.DISTRIBUTION_GENERAL: gettext_lazy("The change to the story's distribution is undone."),
    Outcome.PAYWALL_REMOVE: gettext_lazy("The story goes back behind the paywall."),
    Outcome.PARTNER_REVOKE: gettext_lazy("Your Partner Program membership is reinstated."),
    Outcome.PARTNER_EARNINGS_HOLD: gettext_lazy("The hold on your Partner Program earnings is released."),
    Outcome.STORY_REMOVE: gettext_lazy("The story is visible again."),
    Outcome.ACCOUNT_RESTRICT: gettext_lazy("The restriction on your account is lifted."),
    Outcome.ACCOUNT_SUSPEND: gettext_lazy("Your account's suspension is lifted."),
    Outcome.FOLLOWERS_PURGE: gettext_lazy("The follows this account made are restored."),
    Outcome.WARNING: gettext_lazy("The warning is withdrawn."),
}


def write_supersession_notice(
    *, decision: Decision, undone: list[EnforcementAction], kept: list[EnforcementAction], actor
) -> Notice:
    """One notice to the writer when a new decision on a re-reviewed case undoes measures
    of an earlier one: what is undone, what stays. Stored in the decision's transaction,
    emailed after commit."""
    from cases import jobs

    case = decision.case
    account = case.account
    with in_writer_language(account):
        subject, body = _supersession_text(decision, undone, kept)
    notice = Notice(
        case=case,
        decision=decision,
        recipient_kind=Notice.Recipient.WRITER,
        account=account,
        email=account.email,
        subject=subject,
        body=body,
        sent_at=timezone.now(),
    )
    notice.full_clean()
    notice.save()
    record_event(
        actor=actor,
        verb="notice.issued",
        target=notice,
        after={"recipient": notice.recipient_kind, "email": bool(notice.email), "undone": [a.pk for a in undone]},
        case_ref=case.pk,
    )
    if notice.email:
        enqueue(jobs.send_notice_job, notice.pk, queue="email")
    return notice


def _supersession_text(decision: Decision, undone, kept) -> tuple[str, str]:
    case = decision.case
    account = case.account
    if case.story_id:
        subject_text = _("your story “%(title)s”") % {"title": case.story.title}
        subject = _("We reversed an earlier decision on your story")
    else:
        subject_text = _("your account @%(handle)s") % {"handle": account.handle}
        subject = _("We reversed an earlier decision on your account")
    if decision.is_violation:
        verdict = _("We still found a breach of our rules, but a lighter measure is enough.")
    else:
        verdict = _("We found that it does not break our rules after all.")
    lines = [f"- {outcome_name(a.outcome)}: {UNDONE_TEXT.get(a.outcome) or _('Undone.')}" for a in undone]
    parts = [
        _hello(account),
        _("We took a second look at %(subject)s.") % {"subject": subject_text} + " " + verdict,
        _("What we are undoing:") + "\n" + "\n".join(lines),
    ]
    if kept:
        parts.append(_("What stays in place:") + "\n" + "\n".join(f"- {outcome_name(a.outcome)}" for a in kept))
    parts.append(
        _("Some of these changes can take a little while to show on your account. We are sorry for the trouble.")
    )
    return subject, "\n\n".join(parts)


# --- writers whose follower count a purge lowered -------------------------------------------

FOLLOWERS_REMOVED_SUBJECT = gettext_lazy("Some of your followers were removed")


def purge_notice_settle() -> timedelta:
    """How long after the last purge touching a writer we wait before telling them, so
    a wave of purges (a ring of fake accounts approved together) makes one notice."""
    if settings.JOBS_RUN_INLINE:
        return timedelta(0)
    return timedelta(seconds=settings.MODERATION.get("PURGE_NOTICE_SETTLE_SECONDS", 120))


def _purge_key(action: EnforcementAction) -> str:
    return (action.effect or {}).get("removed_by") or action.idempotency_key


def notify_writers_of_purges(
    *, settle: timedelta | None = None, lookback: timedelta = timedelta(days=7), now=None
) -> list[Notice]:
    """Tell every writer whose follower count applied purges lowered: how many followers
    went, why, and how to appeal. One notice per writer for all the purges not yet told
    to them (`PurgeNoticeItem` is unique per purge and writer, so never twice), sent
    once no purge still queued would lower their count again and the last one settled.
    Safe to run any number of times, concurrently too (each writer's row is locked)."""
    from django.db.models import Count

    from moderation.models import Account, Follow

    now = now or timezone.now()
    settle = purge_notice_settle() if settle is None else settle
    purges = {
        _purge_key(a): a
        for a in EnforcementAction.objects.filter(
            outcome=Outcome.FOLLOWERS_PURGE, status="applied", applied_at__gte=now - lookback
        ).select_related("case")
    }
    if not purges:
        return []
    purged_accounts = {a.account_id for a in purges.values()}
    told = set(
        PurgeNoticeItem.objects.filter(action__in=[a.pk for a in purges.values()]).values_list("action", "account")
    )
    pending: dict[int, list[tuple[EnforcementAction, int]]] = {}
    for removed_by, writer_id, edges in (
        Follow.objects.filter(removed_by__in=list(purges), is_active=False)
        .values("removed_by", "followee")
        .annotate(n=Count("id"))
        .values_list("removed_by", "followee", "n")
    ):
        action = purges[removed_by]
        if writer_id in purged_accounts or (action.pk, writer_id) in told:
            continue
        pending.setdefault(writer_id, []).append((action, edges))
    if not pending:
        return []
    queued = EnforcementAction.objects.filter(outcome=Outcome.FOLLOWERS_PURGE, status="approved").values("account")
    waiting = set(
        Follow.objects.filter(followee__in=list(pending), is_active=True, follower__in=queued).values_list(
            "followee", flat=True
        )
    )
    notices = []
    for writer_id, items in sorted(pending.items()):
        latest = max(a.applied_at for a, _ in items)
        if writer_id in waiting or latest > now - settle:
            continue
        notice = _tell_writer_followers_removed(Account.objects.get(pk=writer_id), items, now=now)
        if notice is not None:
            notices.append(notice)
    return notices


def _followers_removed_body(account, count: int, when, deadline, link: str) -> str:
    changed = ngettext(
        "What changed: we removed %(count)s follower from your account @%(handle)s on %(date)s, "
        "so your follower count went down by %(count)s.",
        "What changed: we removed %(count)s followers from your account @%(handle)s on %(date)s, "
        "so your follower count went down by %(count)s.",
        count,
    ) % {"count": f"{count:,}", "handle": account.handle, "date": writer_date(when)}
    return "\n\n".join(
        [
            _hello(account),
            changed,
            _(
                "Why: those follows came from accounts we found to be fake or automated (follow spam, engagement "
                "rings). Follows from such accounts no longer count. This notice is not about anything you did."
            ),
            _("How to appeal: if you think some of them were real readers, tell us until %(date)s at")
            % {"date": writer_date(deadline)}
            + f"\n{link}\n"
            + _(
                "Choose “My followers dropped”. You do not need to sign in. "
                "A person who took no part in the removal will look at each account again."
            ),
        ]
    )


def _tell_writer_followers_removed(account, items: list[tuple[EnforcementAction, int]], *, now) -> Notice | None:
    from cases import jobs
    from moderation.models import Account

    with transaction.atomic():
        Account.objects.select_for_update().filter(pk=account.pk).first()
        told = set(
            PurgeNoticeItem.objects.filter(account=account, action__in=[a.pk for a, _ in items]).values_list(
                "action", flat=True
            )
        )
        items = [(a, n) for a, n in items if a.pk not in told]
        if not items:
            return None
        count = sum(n for _, n in items)
        first = min((a for a, _ in items), key=lambda a: a.pk)
        deadline = now + appeal_window()
        notice = Notice(
            case=first.case,
            recipient_kind=Notice.Recipient.WRITER,
            account=account,
            email=account.email,
            subject="(written below)",
            body="(written below)",
            automated_detection=any(a.case.automated_origin for a, _ in items),
            appeal_deadline=deadline,
            sent_at=now,
        )
        notice.full_clean(validate_constraints=False)
        notice.save()
        with in_writer_language(account):
            notice.subject = str(FOLLOWERS_REMOVED_SUBJECT)
            notice.body = _followers_removed_body(
                account, count, max(a.applied_at for a, _n in items), deadline, appeal_link(notice)
            )
        notice.save(update_fields=["subject", "body"])
        PurgeNoticeItem.objects.bulk_create(
            [PurgeNoticeItem(notice=notice, action=a, account=account, edges=n) for a, n in items]
        )
        record_event(
            actor=None,
            verb="notice.followers_removed_sent",
            target=notice,
            after={"followers_removed": count, "purges": sorted(a.pk for a, _ in items), "email": bool(account.email)},
            case_ref=first.case_id,
        )
        if account.email:
            enqueue(jobs.send_notice_job, notice.pk, queue="email")
    return notice
