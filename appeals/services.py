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
from django.urls import reverse
from django.utils import timezone

from appeals import jobs, selectors
from appeals.models import (
    OPEN_APPEAL_STATUSES,
    Appeal,
    AppealFile,
    AppealKind,
    AppealStatus,
    FollowerVerdict,
    PurgedFollowerReview,
)
from appeals.notifications import magic_link_message
from appeals.permissions import can_claim, can_decide, can_review_appeals
from appeals.tokens import make_magic_token
from appeals.uploads import MAX_FILES, sniff_content_type
from cases.models import ActionStatus, EnforcementAction, Notice, ReversalCause
from moderation.audit import record_event
from moderation.claims import ClaimLost, claim_next, release_claim, renew_claim
from moderation.jobs import enqueue
from moderation.models import Account, Outcome, PartnerStatus
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


def request_magic_link(*, handle: str, email: str) -> None:
    """Queue the sign-in link for handle + email. The request does the same work
    whatever was typed (no lookup here: the job decides), so neither the page nor
    its timing tells anyone which accounts exist."""
    handle = handle.strip().lstrip("@")
    email = email.strip()
    if not handle or not email:
        return
    enqueue(jobs.send_magic_link_if_known, handle, email)


def deliver_magic_link(*, handle: str, email: str) -> bool:
    """Sign a token and render the email for handle + email; send it only when they
    match an account. Unknown writers get the same signing and rendering work."""
    account = Account.objects.filter(handle__iexact=handle, email__iexact=email).exclude(email="").first()
    subject = account or Account(pk=0, handle=handle, email=email)
    url = settings.SITE_URL + reverse("appeals:start_form", args=[make_magic_token(subject)])
    message = magic_link_message(email=subject.email, handle=subject.handle, url=url)
    if account is None:
        return False
    message.send()
    return True


_open_error = (
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
        raise ValidationError({"files": f"Attach at most {MAX_FILES} files."})
    file_types = []
    for uploaded in files:
        try:
            file_types.append(sniff_content_type(uploaded))
        except ValidationError as exc:
            raise ValidationError({"files": exc.messages})

    if action is not None:
        kind = AppealKind.ACTION
        if action.account_id != account.pk or action.status != ActionStatus.APPLIED:
            raise ValidationError({"choice": "This action cannot be appealed."})
        notice = notice or selectors.writer_notice_for(action)
        if selectors.appeal_deadline(action, notice) < now:
            raise ValidationError({"choice": "The six months to appeal this action have passed."})
        if Appeal.objects.filter(action=action, status__in=OPEN_APPEAL_STATUSES).exists():
            raise AppealAlreadyOpen({"choice": _open_error})
        money = action.outcome in selectors.MONEY_OUTCOMES
        case_ref = action.case_id
        purged = {}
    else:
        kind = AppealKind.FOLLOWERS
        if followers_dropped_on is None:
            raise ValidationError({"followers_dropped_on": "Tell us roughly when your followers dropped."})
        if followers_dropped_on > timezone.localdate(now):
            raise ValidationError({"followers_dropped_on": "This date is in the future."})
        since = now - selectors.appeal_window()
        if followers_dropped_on < since.date():
            raise ValidationError({"followers_dropped_on": "Appeals are accepted for six months after a change."})
        purged = selectors.purge_actions_behind(selectors.purged_edges_to(account, since=since))
        if not purged:
            raise ValidationError({"choice": "We found no followers removed from your account in the last six months."})
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
    enqueue(jobs.send_appeal_email, appeal.pk, "submitted")
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
        enqueue(jobs.send_appeal_email, appeal.pk, "in_review")


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
    now: datetime | None = None,
) -> Appeal:
    """Uphold, overturn or partly overturn. Overturns reverse the chosen actions through
    the enforcement outbox (cause=appeal), so they count against whoever caused them.

    `actions_to_reverse` are action ids (action appeals); `followers_to_reinstate` are
    PurgedFollowerReview ids (follower appeals); both matter only for a partial overturn.
    """
    now = now or timezone.now()
    appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
    if not can_decide(actor, appeal, now=now):
        raise PermissionDenied(
            "Only the reviewer holding the claim, who took no part in the decision appealed, may decide it."
        )
    if outcome not in DECISION_TRANSITIONS[AppealStatus.IN_REVIEW]:
        raise ValidationError({"outcome": "Choose upheld, overturned or partially overturned."})
    statement = (statement or "").strip()
    if not statement:
        raise ValidationError({"statement": "Write the statement the writer will read."})

    reverse_ids, reinstate = _chosen_reversals(appeal, outcome, set(actions_to_reverse), set(followers_to_reinstate))
    reversed_actions = list(EnforcementAction.objects.filter(pk__in=reverse_ids).order_by("id"))
    summary = {}
    if reversed_actions:
        from cases.services.enforcement import request_reversal

        for action in reversed_actions:
            request_reversal(
                action=action,
                actor=actor,
                reason=f"Appeal #{appeal.pk} {outcome.replace('_', ' ')}",
                cause=ReversalCause.APPEAL,
                appeal_ref=appeal.pk,
            )
        summary["reversed_action_ids"] = [a.pk for a in reversed_actions]
        summary["actions"] = [
            {"id": a.pk, "outcome": a.outcome}
            for a in reversed_actions
            if appeal.kind == AppealKind.ACTION and a.account_id == appeal.account_id
        ]
    if appeal.kind == AppealKind.FOLLOWERS:
        _record_follower_verdicts(appeal, reinstate)
        if reinstate:
            summary["followers"] = {
                "accounts": len(reinstate),
                "expected": selectors.purged_edges_to(appeal.account)
                .filter(follower__in=appeal.follower_reviews.filter(pk__in=reinstate).values("follower"))
                .count(),
            }
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
    enqueue(jobs.send_appeal_email, appeal.pk, "decided")
    if reversed_actions:
        enqueue(jobs.check_restoration, appeal.pk, queue="restoration")
    return appeal


def _chosen_reversals(appeal: Appeal, outcome: str, action_ids: set[int], review_ids: set[int]):
    """Which actions to reverse and which follower reviews to reinstate, checked against
    what the appeal may touch."""
    if appeal.kind == AppealKind.ACTION:
        candidates = {a.pk for a in selectors.reversible_actions(appeal)}
        chosen = _chosen(outcome, candidates, action_ids, "actions_to_reverse", "action")
        return chosen, set()
    reviews = dict(appeal.follower_reviews.values_list("pk", "follower_id"))
    chosen_reviews = _chosen(outcome, set(reviews), review_ids, "followers_to_reinstate", "follower")
    if not chosen_reviews:
        return set(), set()
    reviews_qs = appeal.follower_reviews.filter(pk__in=chosen_reviews)
    purge_ids = set(reviews_qs.values_list("purge_action_id", flat=True))
    purge_cases = EnforcementAction.objects.filter(pk__in=purge_ids).values("case")
    # A wrongly purged follower was usually suspended by the same case: lift that too.
    suspensions = set(
        EnforcementAction.objects.filter(
            account__in=reviews_qs.values("follower"),
            outcome=Outcome.ACCOUNT_SUSPEND,
            status=ActionStatus.APPLIED,
            case__in=purge_cases,
        ).values_list("pk", flat=True)
    )
    still_applied = set(
        EnforcementAction.objects.filter(pk__in=purge_ids, status=ActionStatus.APPLIED).values_list("pk", flat=True)
    )
    return still_applied | suspensions, chosen_reviews


def _chosen(outcome: str, candidates: set[int], picked: set[int], field: str, noun: str) -> set[int]:
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


def _record_follower_verdicts(appeal: Appeal, reinstate: set[int]) -> None:
    reviews = list(appeal.follower_reviews.all())
    for review in reviews:
        review.verdict = FollowerVerdict.REINSTATE if review.pk in reinstate else FollowerVerdict.KEEP_PURGED
    PurgedFollowerReview.objects.bulk_update(reviews, ["verdict"], batch_size=1000)


@transaction.atomic
def record_restoration_if_finished(*, appeal_id: int) -> bool:
    """Once every reversal of a decided appeal has finished, note what was restored and
    tell the writer. Returns True when the restoration is complete."""
    appeal = Appeal.objects.select_for_update().filter(pk=appeal_id).first()
    if appeal is None or appeal.status in OPEN_APPEAL_STATUSES:
        return False
    summary = dict(appeal.restored_summary or {})
    if not summary.get("reversed_action_ids") or summary.get("completed_at"):
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
    enqueue(jobs.send_appeal_email, appeal.pk, "restored")
    return True


# --- bulk reversal (detector recall, supervisor corrections) ------------------------


@transaction.atomic
def reverse_actions(
    *,
    actions: Iterable[EnforcementAction],
    actor,
    reason: str,
    writer_statement: str,
    cause: str = ReversalCause.RECALL,
) -> list:
    """Reverse many applied actions at once through the outbox, and send each affected
    writer one notice listing what was reversed, in `writer_statement`'s words."""
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
    now = timezone.now()
    accounts = Account.objects.in_bulk(list(by_account))
    for account_id, reversed_here in by_account.items():
        account = accounts[account_id]
        lines = selectors.restored_lines([{"outcome": a.outcome} for a in reversed_here])
        body = "\n".join([writer_statement.strip(), "", "What we restored:", *[f"- {line}" for line in lines]])
        first = reversed_here[0]
        notice = Notice(
            case=first.case,
            decision=first.decision,
            recipient_kind=Notice.Recipient.WRITER,
            account=account,
            email=account.email,
            subject="We reversed an action on your account",
            body=body,
            sent_at=now,
        )
        notice.full_clean()
        notice.save()
        record_event(
            actor=actor,
            verb="notice.reversal_sent",
            target=notice,
            after={"actions": [a.pk for a in reversed_here], "cause": cause},
            reason=reason,
            case_ref=first.case_id,
        )
        if account.email:
            enqueue(jobs.send_reversal_notice, notice.pk)
    return entries
