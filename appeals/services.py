"""Every state change of an appeal: filing, claiming, deciding, and the reversals an
overturn sets off. One function per use case, each atomic and audited."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from appeals import jobs, selectors
from appeals.models import (
    OPEN_APPEAL_STATUSES,
    Appeal,
    AppealFile,
    AppealKind,
    AppealStatus,
    FollowerRestoration,
    FollowerVerdict,
    GenuineFollowerConsequence,
    MagicLinkRequest,
    PurgedFollowerReview,
    RestorationStatus,
)
from appeals.notifications import magic_link_message
from appeals.permissions import can_claim, can_decide, can_review_appeals
from appeals.strikes import void_strikes_after_appeal
from appeals.tokens import make_magic_token
from appeals.uploads import MAX_FILES, sniff_content_type
from appeals.verdicts import revise_detector_verdicts_after_appeal
from cases.models import ActionStatus, Case, EnforcementAction, Notice, ReversalCause
from cases.services.strikes import void_strikes_of_reversed_decisions
from moderation.audit import record_event
from moderation.claims import ClaimLost, claim_next, release_claim, renew_claim
from moderation.i18n import in_writer_language
from moderation.jobs import enqueue
from moderation.models import Account, PartnerStatus
from moderation.platform import PlatformError, get_adapter
from moderation.transitions import transition

STATEMENT_MAX_CHARS = 5000

DECISION_TRANSITIONS = {
    AppealStatus.IN_REVIEW: {AppealStatus.UPHELD, AppealStatus.OVERTURNED, AppealStatus.PARTIALLY_OVERTURNED}
}
START_REVIEW = {AppealStatus.SUBMITTED: {AppealStatus.IN_REVIEW}}


class AppealAlreadyOpen(ValidationError):
    """An open appeal about the same action (or the same lost followers) exists."""


def _lease() -> timedelta:
    return timedelta(minutes=settings.MODERATION["CLAIM_LEASE_MINUTES"])


# --- writer side ----------------------------------------------------------------


def request_magic_link(*, handle: str, email: str, language: str = "") -> None:
    """Queue the sign-in link for handle + email. The request does the same work
    whatever was typed (one insert, no lookup: the job decides), so neither the page
    nor its timing tells anyone which accounts exist. What was typed goes into a
    `MagicLinkRequest` the job reads by id, never into the job's arguments (the admin's
    job list, the RQ console). `language`: the page's, used when the platform reports
    none for the account."""
    handle = handle.strip().lstrip("@")
    email = email.strip()
    if not handle or not email:
        return
    with transaction.atomic():
        typed = MagicLinkRequest.objects.create(handle=handle[:64], email=email[:254], language=language[:10])
        enqueue(jobs.send_magic_link_request, typed.pk, queue="email")


def deliver_requested_magic_link(*, request_id: int) -> bool:
    """The job's side of `request_magic_link`: deliver, then forget what was typed. A
    request already handled (the job ran twice) does nothing."""
    typed = MagicLinkRequest.objects.filter(pk=request_id).first()
    if typed is None:
        return False
    sent = deliver_magic_link(handle=typed.handle, email=typed.email, language=typed.language)
    MagicLinkRequest.objects.filter(pk=request_id).delete()
    return sent


def deliver_magic_link(*, handle: str, email: str, language: str = "") -> bool:
    """Sign a token and render the email for handle + email; send it only when they
    match an account. Unknown writers get the same signing and rendering work."""
    # Only an email the platform confirmed: one a signal brought in (facts_pending) may be an attacker's.
    account = (
        Account.objects.filter(handle__iexact=handle, email__iexact=email, facts_pending=False)
        .exclude(email="")
        .first()
    )
    subject = account or Account(pk=0, handle=handle, email=email)
    url = settings.SITE_URL + reverse("appeals:start_form", args=[make_magic_token(subject)])
    message = magic_link_message(
        email=subject.email, handle=subject.handle, url=url, account=account, language=language
    )
    if account is None:
        return False
    message.send()
    return True


_open_error = gettext_lazy(
    "You already have an open appeal about this. We emailed its status link to you when you filed it; "
    "we will write to you when it is decided."
)


@transaction.atomic
def file_appeal(
    *,
    account: Account,
    action: EnforcementAction | None,
    writer_statement: str,
    contact_email: str,
    followers_dropped_on: date | None = None,
    notice: Notice | None = None,
    files: Sequence = (),
    now: datetime | None = None,
) -> Appeal:
    """File an appeal about one applied action, or about followers lost to purges.

    Errors are ValidationErrors keyed by the form's field names."""
    now = now or timezone.now()
    if len(files) > MAX_FILES:
        raise ValidationError({"files": _("Attach at most %(count)s files.") % {"count": MAX_FILES}})
    file_types = []
    for uploaded in files:
        try:
            file_types.append(sniff_content_type(uploaded))
        except ValidationError as exc:
            raise ValidationError({"files": exc.messages})

    if action is not None:
        kind = AppealKind.ACTION
        if action.account_id != account.pk or action.status != ActionStatus.APPLIED:
            raise ValidationError({"choice": _("This action cannot be appealed.")})
        notice = notice or selectors.writer_notice_for(action)
        if selectors.appeal_deadline(action, notice) < now:
            raise ValidationError({"choice": _("The six months to appeal this action have passed.")})
        if Appeal.objects.filter(action=action, status__in=OPEN_APPEAL_STATUSES).exists():
            raise AppealAlreadyOpen({"choice": _open_error})
        money = action.outcome in selectors.MONEY_OUTCOMES
        case_ref = action.case_id
        purged = {}
    else:
        kind = AppealKind.FOLLOWERS
        # The date is a hint for the reviewer (optional on the form): the purges are found from the records.
        if followers_dropped_on is not None and followers_dropped_on > timezone.localdate(now):
            raise ValidationError({"followers_dropped_on": _("This date is in the future.")})
        since = now - selectors.appeal_window()
        if followers_dropped_on is not None and followers_dropped_on < since.date():
            raise ValidationError({"followers_dropped_on": _("Appeals are accepted for six months after a change.")})
        purged = selectors.purge_actions_behind(selectors.purged_edges_to(account, since=since))
        if not purged:
            raise ValidationError(
                {"choice": _("We found no followers removed from your account in the last six months.")}
            )
        if selectors.has_open_follower_appeal(account):
            raise AppealAlreadyOpen({"choice": _open_error})
        money = account.partner_status == PartnerStatus.ACTIVE
        case_ref = None

    appeal = Appeal(
        account=account,
        kind=kind,
        action=action,
        notice=notice,
        followers_dropped_on=followers_dropped_on if kind == AppealKind.FOLLOWERS else None,
        writer_statement=writer_statement.strip(),
        contact_email=contact_email.strip(),
        tracking_token=secrets.token_urlsafe(32),
        money_at_stake=money,
        submitted_at=now,
    )
    appeal.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            appeal.save()
    except IntegrityError:
        raise AppealAlreadyOpen({"choice": _open_error})

    for uploaded, content_type in zip(files, file_types, strict=True):
        AppealFile.objects.create(
            appeal=appeal,
            file=uploaded,
            original_name=os.path.basename(uploaded.name)[:255],
            content_type=content_type,
            size=uploaded.size,
        )
    if purged:
        _snapshot_purged_followers(appeal, purged, now=now)
    record_event(
        actor=None,
        verb="appeal.submitted",
        target=appeal,
        after={"kind": kind, "action": appeal.action_id, "files": len(files), "purged_followers": len(purged)},
        reason=f"Filed by @{account.handle} through the public appeal form",
        case_ref=case_ref,
        appeal_ref=appeal.pk,
    )
    enqueue(jobs.send_appeal_email, appeal.pk, "submitted", queue="email")
    return appeal


def _snapshot_purged_followers(appeal: Appeal, purged: dict[int, int], *, now: datetime) -> None:
    """One review row per purged follower, with the verdict its evidence suggests."""
    from cases.models import Signal
    from moderation.models import SignalSource

    followers = Account.objects.in_bulk(list(purged))
    cases = dict(EnforcementAction.objects.filter(pk__in=set(purged.values())).values_list("pk", "case_id"))
    scores: dict[int, float] = {}
    for case_id, score in Signal.objects.filter(
        case_id__in=set(cases.values()), source=SignalSource.DETECTOR, score__isnull=False
    ).values_list("case_id", "score"):
        scores[case_id] = max(score, scores.get(case_id, 0.0))
    rows = []
    for follower_id, action_id in purged.items():
        _, _, suggested = selectors.judge_follower(followers[follower_id], score=scores.get(cases[action_id]), now=now)
        rows.append(
            PurgedFollowerReview(
                appeal=appeal, follower_id=follower_id, purge_action_id=action_id, suggested_verdict=suggested
            )
        )
    PurgedFollowerReview.objects.bulk_create(rows, batch_size=1000)


# --- reviewer side -----------------------------------------------------------------


def _start_review(appeal: Appeal, *, user) -> None:
    if appeal.status == AppealStatus.SUBMITTED:
        transition(
            appeal,
            to=AppealStatus.IN_REVIEW,
            allowed=START_REVIEW,
            actor=user,
            verb="appeal.review_started",
            appeal_ref=appeal.pk,
        )
        enqueue(jobs.send_appeal_email, appeal.pk, "in_review", queue="email")


@transaction.atomic
def claim_next_appeal(*, user, now: datetime | None = None) -> Appeal | None:
    """Take the next appeal this reviewer may work: money at stake first, then oldest."""
    if not can_review_appeals(user):
        raise PermissionDenied("Only appeals reviewers claim appeals.")
    appeal = claim_next(selectors.claimable_appeals_for(user), user=user, lease=_lease(), now=now)
    if appeal is not None:
        _start_review(appeal, user=user)
    return appeal


@transaction.atomic
def claim_appeal(*, appeal: Appeal, user, now: datetime | None = None) -> Appeal:
    """Claim one named appeal from the list (same rules as claim next)."""
    now = now or timezone.now()
    if not can_claim(user, appeal, now=now):
        raise PermissionDenied("You cannot claim this appeal: it is taken, closed, or you took part in the decision.")
    claimed = claim_next(selectors.claimable_appeals_for(user).filter(pk=appeal.pk), user=user, lease=_lease(), now=now)
    if claimed is None:
        raise ClaimLost(f"Appeal #{appeal.pk} was claimed by someone else.")
    _start_review(claimed, user=user)
    return claimed


def renew_appeal_claim(*, appeal: Appeal, user, now: datetime | None = None) -> Appeal:
    return renew_claim(appeal, user=user, lease=_lease(), now=now)


def release_appeal(*, appeal: Appeal, user) -> Appeal:
    return release_claim(appeal, user=user)


class PlanChanged(ValidationError):
    """What the decision would change differs from the plan the reviewer confirmed."""


def _check_outcome(outcome: str, statement: str | None = None) -> None:
    if outcome not in DECISION_TRANSITIONS[AppealStatus.IN_REVIEW]:
        raise ValidationError({"outcome": "Choose upheld, overturned or partially overturned."})
    if statement is not None and not statement.strip():
        raise ValidationError({"statement": "Write the statement the writer will read."})


def plan_decision(
    *,
    appeal: Appeal,
    outcome: str,
    actions_to_reverse: Iterable[int] = (),
    followers_to_reinstate: Iterable[int] = (),
    reverse_followers: Iterable[int] = (),
) -> selectors.AppealPlan:
    """What deciding this way would change, for the confirmation step. Changes nothing;
    raises the same ValidationErrors `decide_appeal` would."""
    _check_outcome(outcome)
    own, genuine, reverse = _chosen(appeal, outcome, set(actions_to_reverse), set(followers_to_reinstate))
    return selectors.appeal_plan(
        appeal, outcome=outcome, own_action_ids=own, genuine_ids=genuine, reverse_ids=reverse & set(reverse_followers)
    )


@transaction.atomic
def decide_appeal(
    *,
    appeal: Appeal,
    actor,
    outcome: str,
    statement: str,
    internal_note: str = "",
    actions_to_reverse: Iterable[int] = (),
    followers_to_reinstate: Iterable[int] = (),
    reverse_followers: Iterable[int] = (),
    plan_fingerprint: str | None = None,
    now: datetime | None = None,
) -> Appeal:
    """Uphold, overturn or partly overturn.

    Action appeals reverse the chosen actions of the appellant through the enforcement
    outbox (cause=appeal). Follower appeals are per account and per effect: only the
    appellant's purged follows from the followers judged genuine come back (one
    `FollowerRestoration` each); each such follower's own case is sent back to review,
    or, for those in `reverse_followers`, its own actions are reversed and it gets its
    own notice. Followers not judged genuine stay purged.

    `actions_to_reverse` are action ids, `followers_to_reinstate` and `reverse_followers`
    PurgedFollowerReview ids. With `plan_fingerprint` (the plan the reviewer confirmed),
    a decision that would now change something else is refused with PlanChanged.
    """
    now = now or timezone.now()
    appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
    if not can_decide(actor, appeal, now=now):
        raise PermissionDenied(
            "Only the reviewer holding the claim, who took no part in the decision appealed, may decide it."
        )
    statement = (statement or "").strip()
    _check_outcome(outcome, statement)
    plan = plan_decision(
        appeal=appeal,
        outcome=outcome,
        actions_to_reverse=actions_to_reverse,
        followers_to_reinstate=followers_to_reinstate,
        reverse_followers=reverse_followers,
    )
    if plan_fingerprint is not None and plan_fingerprint != plan.fingerprint:
        raise PlanChanged("What this decision would change has changed since you confirmed it. Check the new plan.")
    reason = f"Appeal #{appeal.pk} {outcome.replace('_', ' ')}"
    summary: dict = {}
    from cases.services.enforcement import request_reversal

    to_reverse = list(EnforcementAction.objects.filter(pk__in=plan.reverse_action_ids).order_by("id"))
    for action in to_reverse:
        request_reversal(action=action, actor=actor, reason=reason, cause=ReversalCause.APPEAL, appeal_ref=appeal.pk)
    if to_reverse:
        summary["reversed_action_ids"] = [a.pk for a in to_reverse]
    if plan.own_actions:
        summary["actions"] = [{"id": a["id"], "outcome": a["outcome"]} for a in plan.own_actions]
    if appeal.kind == AppealKind.FOLLOWERS:
        _apply_follower_plan(appeal, plan, actor=actor, reason=reason, to_reverse=to_reverse, now=now)
        if plan.restore:
            summary["followers"] = {"accounts": len(plan.restore), "expected": sum(r["edges"] for r in plan.restore)}
            summary["restoration_ids"] = list(appeal.restorations.values_list("pk", flat=True))
        if plan.requeue:
            summary["requeued_case_ids"] = [r["case"] for r in plan.requeue if r["state"] == "requeue"]
        if plan.reinstate:
            summary["reinstated_account_ids"] = [r["account_id"] for r in plan.reinstate]
    transition(
        appeal,
        to=outcome,
        allowed=DECISION_TRANSITIONS,
        actor=actor,
        verb=f"appeal.{outcome}",
        reason=internal_note,
        extra_updates={
            "decided_by": actor,
            "decided_at": now,
            "decision_statement": statement,
            "internal_note": internal_note,
            "restored_summary": summary,
            "assignee": None,
            "claim_expires_at": None,
        },
        case_ref=appeal.action.case_id if appeal.action_id else None,
        appeal_ref=appeal.pk,
    )
    revise_detector_verdicts_after_appeal(appeal=appeal, actor=actor)
    void_strikes_after_appeal(appeal=appeal, actor=actor, reversed_actions=to_reverse)
    enqueue(jobs.send_appeal_email, appeal.pk, "decided", queue="email")
    if summary.get("restoration_ids"):
        enqueue(jobs.restore_follower_edges, appeal.pk, queue="restoration", key=f"restore-followers-{appeal.pk}")
    if to_reverse or summary.get("restoration_ids"):
        enqueue(jobs.check_restoration, appeal.pk, queue="restoration")
    return appeal


def _chosen(appeal: Appeal, outcome: str, action_ids: set[int], review_ids: set[int]):
    """(the appellant's action ids to reverse, follower reviews judged genuine, the
    reviews whose own actions may be reversed), checked against what the appeal may touch."""
    if appeal.kind == AppealKind.ACTION:
        candidates = {a.pk for a in selectors.reversible_actions(appeal)}
        return _picked(outcome, candidates, action_ids, "actions_to_reverse", "action"), set(), set()
    reviews = set(appeal.follower_reviews.values_list("pk", flat=True))
    genuine = _picked(outcome, reviews, review_ids, "followers_to_reinstate", "follower")
    return set(), genuine, genuine


def _picked(outcome: str, candidates: set[int], picked: set[int], field: str, noun: str) -> set[int]:
    if outcome == AppealStatus.UPHELD:
        return set()
    if outcome == AppealStatus.OVERTURNED:
        if not candidates and noun == "action":
            raise ValidationError({"outcome": "Nothing left to reverse: every action has already been reversed."})
        return candidates
    picked &= candidates
    if not picked:
        raise ValidationError({field: f"Choose at least one {noun} for a partial overturn."})
    if picked == candidates:
        raise ValidationError({field: f"You chose every {noun}: that is a full overturn."})
    return picked


def _apply_follower_plan(appeal, plan, *, actor, reason: str, to_reverse: list[EnforcementAction], now) -> None:
    """Record each verdict, queue the appellant's edge restorations, re-queue or reverse
    each genuine follower's own case, and tell each reinstated follower."""
    from cases.services.requeue import RequeueRefused, requeue_case

    genuine = {r["review"] for r in plan.restore}
    reversing = {r["review"] for r in plan.reinstate}
    reviews = list(appeal.follower_reviews.select_related("purge_action"))
    for review in reviews:
        review.verdict = FollowerVerdict.REINSTATE if review.pk in genuine else FollowerVerdict.KEEP_PURGED
        if review.pk in genuine:
            review.consequence = (
                GenuineFollowerConsequence.REVERSE if review.pk in reversing else GenuineFollowerConsequence.REQUEUE
            )
        else:
            review.consequence = ""
    PurgedFollowerReview.objects.bulk_update(reviews, ["verdict", "consequence"], batch_size=1000)
    FollowerRestoration.objects.bulk_create(
        [
            FollowerRestoration(
                appeal=appeal,
                purge_action=review.purge_action,
                follower_id=review.follower_id,
                followee_id=appeal.account_id,
                created_at=now,
            )
            for review in reviews
            if review.pk in genuine
        ]
    )
    for row in plan.requeue:
        if row["state"] != "requeue":
            continue
        try:
            requeue_case(
                case=Case(pk=row["case"]),
                actor=actor,
                reason=f"{reason}: @{row['account']} judged a genuine reader",
                now=now,
            )
        except RequeueRefused:
            raise PlanChanged(f"Case #{row['case']} is no longer closed. Check the new plan.")
    by_account: dict[int, list[EnforcementAction]] = {}
    for action in to_reverse:
        if action.account_id != appeal.account_id:
            by_account.setdefault(action.account_id, []).append(action)
    for account_id, actions in by_account.items():
        write_reversal_notice(
            account=Account.objects.get(pk=account_id),
            actions=actions,
            statement=REINSTATED_BY_APPEAL,
            actor=actor,
            reason=reason,
            cause=ReversalCause.APPEAL,
            key=f"appeal-{appeal.pk}-reinstated-{account_id}",
            appeal_ref=appeal.pk,
        )


REINSTATED_BY_APPEAL = (
    "We looked at your account again and found that it belongs to a genuine reader. We are sorry: "
    "our earlier decision treated it as a fake account. We have reversed what that decision did."
)


@transaction.atomic
def record_restoration_if_finished(*, appeal_id: int) -> bool:
    """Once every reversal of a decided appeal has finished, note what was restored and
    tell the writer. Returns True when the restoration is complete."""
    appeal = Appeal.objects.select_for_update().filter(pk=appeal_id).first()
    if appeal is None or appeal.status in OPEN_APPEAL_STATUSES:
        return False
    summary = dict(appeal.restored_summary or {})
    if not selectors.has_restoration(summary) or summary.get("completed_at"):
        return bool(summary.get("completed_at"))
    if not selectors.restoration_finished(appeal):
        return False
    before = dict(summary)
    summary["completed_at"] = timezone.now().isoformat()
    if "followers" in summary:
        summary["followers"] = {**summary["followers"], "restored": selectors.followers_restored_count(appeal)}
    appeal.restored_summary = summary
    appeal.save(update_fields=["restored_summary", "updated_at"])
    record_event(
        actor=None,
        verb="appeal.restoration_completed",
        target=appeal,
        before=before,
        after=summary,
        appeal_ref=appeal.pk,
    )
    enqueue(jobs.send_appeal_email, appeal.pk, "restored", queue="email")
    return True


# --- bulk reversal (detector recall, supervisor corrections) ------------------------


def write_reversal_notice(
    *,
    account: Account,
    actions: Sequence[EnforcementAction],
    statement: str,
    actor,
    reason: str,
    cause: str,
    key: str = "",
    appeal_ref: int | None = None,
) -> Notice | None:
    """Tell one account what was reversed on it, in the caller's transaction. With a
    `key` the notice goes out once (database constraint): asking again returns None."""
    if key and Notice.objects.filter(key=key).exists():
        return None
    with in_writer_language(account):
        lines = selectors.restored_lines([{"outcome": a.outcome} for a in actions])
        body = "\n".join([statement.strip(), "", _("What we restored:"), *[f"- {line}" for line in lines]])
        subject = _("We reversed an action on your account")
    first = actions[0]
    notice = Notice(
        case=first.case,
        decision=first.decision,
        recipient_kind=Notice.Recipient.WRITER,
        account=account,
        email=account.email,
        subject=subject,
        body=body,
        sent_at=timezone.now(),
        key=key,
    )
    notice.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            notice.save()
    except IntegrityError:
        return None
    record_event(
        actor=actor,
        verb="notice.reversal_sent",
        target=notice,
        after={"actions": [a.pk for a in actions], "cause": cause, "key": key},
        reason=reason,
        case_ref=first.case_id,
        appeal_ref=appeal_ref,
    )
    if account.email:
        enqueue(jobs.send_reversal_notice, notice.pk, queue="email")
    return notice


@transaction.atomic
def reverse_actions(
    *,
    actions: Iterable[EnforcementAction],
    actor,
    reason: str,
    writer_statement: str,
    cause: str = ReversalCause.RECALL,
    notice_key: str = "",
) -> list:
    """Reverse many applied actions at once through the outbox, and send each affected
    account one notice listing what was reversed, in `writer_statement`'s words. With
    `notice_key` (say "recall-7") each account's notice is keyed "<notice_key>-account-<id>",
    so a re-run never tells anyone twice."""
    from cases.services.enforcement import request_reversal

    if not writer_statement.strip():
        raise ValidationError({"writer_statement": "Write what the writers will read."})
    entries = []
    by_account: dict[int, list[EnforcementAction]] = {}
    for action in actions:
        if action.status != ActionStatus.APPLIED:
            continue
        entries.append(request_reversal(action=action, actor=actor, reason=reason, cause=cause))
        by_account.setdefault(action.account_id, []).append(action)
    void_strikes_of_reversed_decisions(
        actions=[a for acts in by_account.values() for a in acts], actor=actor, reason=reason
    )
    accounts = Account.objects.in_bulk(list(by_account))
    for account_id, reversed_here in by_account.items():
        write_reversal_notice(
            account=accounts[account_id],
            actions=reversed_here,
            statement=writer_statement,
            actor=actor,
            reason=reason,
            cause=cause,
            key=f"{notice_key}-account-{account_id}" if notice_key else "",
        )
    return entries


# --- the appellant's own follows back, one purge at a time ----------------------------------


class RestorationProgress:
    """Batch progress on a FollowerRestoration; `advance` runs in the batch's transaction."""

    def __init__(self, restoration: FollowerRestoration):
        self.pk = restoration.pk
        self.cursor = restoration.cursor

    def start(self, total: int) -> None:
        FollowerRestoration.objects.filter(pk=self.pk).update(progress_total=total)

    def advance(self, *, done: int, cursor: int) -> None:
        FollowerRestoration.objects.filter(pk=self.pk).update(
            progress_done=F("progress_done") + done,
            progress_total=Greatest(F("progress_total"), F("progress_done") + done),
            cursor=cursor,
        )
        self.cursor = cursor


def run_follower_restoration(*, restoration_id: int) -> FollowerRestoration:
    """Job body: reactivate the edges one purge removed from one follower to the
    appellant, through the platform adapter. Idempotent: only edges still removed by
    that purge are touched, after the cursor; done is recorded once, under a lock."""
    with transaction.atomic():
        row = FollowerRestoration.objects.select_for_update().select_related("purge_action").get(pk=restoration_id)
        if row.status == RestorationStatus.DONE:
            return row
        FollowerRestoration.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
    try:
        get_adapter().restore_follows(
            removed_by=selectors._purge_key(row.purge_action),
            follower_ids=[row.follower_id],
            followee_ids=[row.followee_id],
            progress=RestorationProgress(row),
        )
    except PlatformError as exc:
        FollowerRestoration.objects.filter(pk=row.pk).update(last_error=str(exc)[:2000])
        return FollowerRestoration.objects.get(pk=row.pk)
    with transaction.atomic():
        row = FollowerRestoration.objects.select_for_update().get(pk=restoration_id)
        if row.status == RestorationStatus.DONE:
            return row
        return transition(
            row,
            to=RestorationStatus.DONE,
            allowed=RESTORATION_TRANSITIONS,
            actor=None,
            verb="appeal.followers_restored",
            reason=f"{row.progress_done} follow(s) of account #{row.follower_id} restored",
            extra_updates={"done_at": timezone.now(), "last_error": ""},
            appeal_ref=row.appeal_id,
        )


RESTORATION_TRANSITIONS = {RestorationStatus.PENDING: {RestorationStatus.DONE}}


def run_follower_restorations(*, appeal_id: int) -> bool:
    """Every pending restoration of one appeal, then the completion check."""
    for pk in FollowerRestoration.objects.filter(appeal_id=appeal_id, status=RestorationStatus.PENDING).values_list(
        "pk", flat=True
    ):
        run_follower_restoration(restoration_id=pk)
    return record_restoration_if_finished(appeal_id=appeal_id)


def resume_follower_restorations(*, older_than: timedelta = timedelta(seconds=60), now=None) -> int:
    """The periodic catch-up for restorations left pending. The job's key keeps one
    open job per appeal, so an appeal whose restoration a worker is still running (it
    holds the job's lease) is not handed to a second worker."""
    now = now or timezone.now()
    appeal_ids = set(
        FollowerRestoration.objects.filter(
            status=RestorationStatus.PENDING, created_at__lte=now - older_than
        ).values_list("appeal_id", flat=True)
    )
    for appeal_id in sorted(appeal_ids):
        enqueue(jobs.restore_follower_edges, appeal_id, queue="restoration", key=f"restore-followers-{appeal_id}")
    return len(appeal_ids)
