"""Read-side queries for the writer pages, the Appeals queue and the appeal page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from appeals.models import OPEN_APPEAL_STATUSES, Appeal, AppealKind, AppealStatus, PurgedFollowerReview
from cases.evidence.genuineness import profiles as genuineness_profiles
from cases.models import ActionStatus, EnforcementAction, Notice, OutboxEntry, OutboxOperation, Signal
from cases.notices import outcome_name
from moderation.i18n import writer_date
from moderation.models import Account, Follow, Outcome, SignalSource

MONEY_OUTCOMES = frozenset({Outcome.PARTNER_REVOKE, Outcome.PARTNER_EARNINGS_HOLD, Outcome.PAYWALL_REMOVE})

# What the writer reads once an action is reversed.
RESTORED_TEXT = {
    Outcome.PAYWALL_REMOVE: gettext_lazy("Story back behind the paywall"),
    Outcome.PARTNER_REVOKE: gettext_lazy("Partner Program reinstated"),
    Outcome.PARTNER_EARNINGS_HOLD: gettext_lazy("Held earnings released"),
    Outcome.STORY_REMOVE: gettext_lazy("Story restored"),
    Outcome.DISTRIBUTION_NETWORK_ONLY: gettext_lazy("Normal distribution restored"),
    Outcome.DISTRIBUTION_NO_BOOST: gettext_lazy("Normal distribution restored"),
    Outcome.DISTRIBUTION_GENERAL: gettext_lazy("Distribution restored"),
    Outcome.ACCOUNT_RESTRICT: gettext_lazy("Account restrictions lifted"),
    Outcome.ACCOUNT_SUSPEND: gettext_lazy("Account suspension lifted"),
    Outcome.FOLLOWERS_PURGE: gettext_lazy("Your follows restored"),
    Outcome.WARNING: gettext_lazy("Warning withdrawn"),
}

# What reversing an action gives back where there is nothing to count (no follows).
UNDONE_IN_WORDS = {
    Outcome.PAYWALL_REMOVE: "story put back behind the paywall",
    Outcome.PARTNER_REVOKE: "Partner Program membership reinstated",
    Outcome.PARTNER_EARNINGS_HOLD: "held earnings released",
    Outcome.STORY_REMOVE: "story visible again",
    Outcome.DISTRIBUTION_NETWORK_ONLY: "general distribution restored",
    Outcome.DISTRIBUTION_NO_BOOST: "eligible for Boost again",
    Outcome.DISTRIBUTION_GENERAL: "distribution change undone",
    Outcome.ACCOUNT_RESTRICT: "restrictions lifted",
    Outcome.ACCOUNT_SUSPEND: "suspension lifted",
    Outcome.FOLLOWERS_PURGE: "follows restored",
    Outcome.WARNING: "warning withdrawn",
}


def restores_in_words(action: EnforcementAction) -> str:
    """What the reversal of `action` restores, for a progress cell whose counts say nothing
    (a paywall restore is one change, not 0 of 0 items)."""
    return UNDONE_IN_WORDS.get(action.outcome, "action reversed")


# What the writer reads about the action they appeal.
ACTION_TEXT = {
    Outcome.PAYWALL_REMOVE: gettext_lazy("Story removed from the paywall"),
    Outcome.PARTNER_REVOKE: gettext_lazy("Removed from the Partner Program"),
    Outcome.PARTNER_EARNINGS_HOLD: gettext_lazy("Partner Program earnings held"),
    Outcome.STORY_REMOVE: gettext_lazy("Story removed"),
    Outcome.DISTRIBUTION_NETWORK_ONLY: gettext_lazy("Story shown to followers only"),
    Outcome.DISTRIBUTION_NO_BOOST: gettext_lazy("Story not eligible for Boost"),
    Outcome.DISTRIBUTION_GENERAL: gettext_lazy("Distribution changed"),
    Outcome.ACCOUNT_RESTRICT: gettext_lazy("Account restricted"),
    Outcome.ACCOUNT_SUSPEND: gettext_lazy("Account suspended"),
    Outcome.FOLLOWERS_PURGE: gettext_lazy("Your follows were removed"),
    Outcome.WARNING: gettext_lazy("Warning"),
}


def restored_lines(actions: list[dict]) -> list[str]:
    """One line per reversed outcome; Partner Program and held earnings read as one."""
    outcomes = [a["outcome"] for a in actions]
    lines = []
    if Outcome.PARTNER_REVOKE in outcomes and Outcome.PARTNER_EARNINGS_HOLD in outcomes:
        lines.append(_("Partner Program reinstated, held earnings released"))
        outcomes = [o for o in outcomes if o not in (Outcome.PARTNER_REVOKE, Outcome.PARTNER_EARNINGS_HOLD)]
    for outcome in dict.fromkeys(outcomes):
        lines.append(str(RESTORED_TEXT.get(outcome) or _("Action reversed")))
    return lines


def appeal_window() -> timedelta:
    return timedelta(days=settings.MODERATION["APPEAL_WINDOW_DAYS"])


def writer_notice_for(action: EnforcementAction) -> Notice | None:
    if action.decision_id is None:
        return None
    return (
        Notice.objects.filter(
            decision_id=action.decision_id, account_id=action.account_id, recipient_kind=Notice.Recipient.WRITER
        )
        .order_by("-sent_at")
        .first()
    )


def appeal_deadline(action: EnforcementAction, notice: Notice | None) -> datetime:
    """Six months after the notice (or after the action, for an action sent without one)."""
    if notice is not None:
        return notice.appeal_deadline or notice.sent_at + appeal_window()
    return (action.applied_at or action.created_at) + appeal_window()


@dataclass
class ActionOption:
    """One action the writer may appeal, as the form lists it."""

    action: EnforcementAction
    notice: Notice | None
    deadline: datetime
    has_open_appeal: bool

    @property
    def value(self) -> str:
        return f"action-{self.action.pk}"

    @property
    def label(self) -> str:
        when = (self.notice.sent_at if self.notice else self.action.applied_at) or self.action.created_at
        return _("%(action)s (on %(date)s)") % {"action": _action_text(self.action), "date": writer_date(when)}


@dataclass
class DecisionStatement:
    """The statement of reasons of a decision, as the writer's pages show it."""

    about: str
    sent_at: datetime
    text: str


def decision_statements(options: list[ActionOption]) -> list[DecisionStatement]:
    """The statements behind the actions a writer may appeal, one per notice (a decision
    with two measures is one letter). Only the notices of the writer's own actions."""
    from cases.statements import statement_for_notice

    seen: dict[int, DecisionStatement] = {}
    for option in options:
        notice = option.notice
        if notice is None or notice.account_id != option.action.account_id:
            continue
        if notice.pk in seen:
            seen[notice.pk].about += f"; {option.label}"
            continue
        text = statement_for_notice(notice)
        if text:
            seen[notice.pk] = DecisionStatement(about=option.label, sent_at=notice.sent_at, text=text)
    return list(seen.values())


def appealed_statement(appeal: Appeal) -> str:
    """The statement of the decision an action appeal is about ("" for a followers appeal)."""
    from cases.statements import statement_for_notice

    if appeal.kind != AppealKind.ACTION or appeal.action is None:
        return ""
    notice = appeal.notice or writer_notice_for(appeal.action)
    if notice is None or notice.account_id != appeal.account_id:
        return ""
    return statement_for_notice(notice)


def appealable_actions(account: Account, *, notice: Notice | None = None, now: datetime | None = None):
    """Applied actions on the writer's account (limited to one notice's decision when the
    writer came from that notice) that are still inside the appeal window."""
    now = now or timezone.now()
    actions = (
        EnforcementAction.objects.filter(account=account, status=ActionStatus.APPLIED)
        .select_related("story")
        .annotate(open_appeal=Exists(Appeal.objects.filter(action=OuterRef("pk"), status__in=OPEN_APPEAL_STATUSES)))
        .order_by("-applied_at", "-id")
    )
    if notice is not None:
        actions = actions.filter(decision_id=notice.decision_id) if notice.decision_id else actions.none()
    notices: dict[int, Notice] = {}
    for n in Notice.objects.filter(
        account=account, recipient_kind=Notice.Recipient.WRITER, decision__isnull=False
    ).order_by("sent_at"):
        notices[n.decision_id] = n  # the latest notice per decision wins
    options = []
    for action in actions:
        action_notice = notices.get(action.decision_id)
        deadline = appeal_deadline(action, action_notice)
        if deadline >= now:
            options.append(ActionOption(action, action_notice, deadline, action.open_appeal))
    return options


def purged_edges_to(account: Account, *, since: datetime | None = None) -> QuerySet[Follow]:
    """Follow edges to this writer that a followers.purge action removed."""
    edges = Follow.objects.filter(followee=account, is_active=False, removed_by__startswith="action-")
    if since is not None:
        edges = edges.filter(removed_at__gte=since)
    return edges


def can_appeal_followers(account: Account, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return purged_edges_to(account, since=now - appeal_window()).exists()


def has_open_follower_appeal(account: Account) -> bool:
    return Appeal.objects.filter(account=account, kind=AppealKind.FOLLOWERS, status__in=OPEN_APPEAL_STATUSES).exists()


def purge_actions_behind(edges: QuerySet[Follow]) -> dict[int, int]:
    """follower id → id of the applied followers.purge action that removed its edge."""
    pairs = {}
    for follower_id, removed_by in edges.values_list("follower_id", "removed_by"):
        _, _, raw = removed_by.partition("-")
        if raw.isdigit():
            pairs[follower_id] = int(raw)
    valid = set(
        EnforcementAction.objects.filter(
            pk__in=set(pairs.values()), outcome=Outcome.FOLLOWERS_PURGE, status=ActionStatus.APPLIED
        ).values_list("pk", flat=True)
    )
    return {f: a for f, a in pairs.items() if a in valid}


# --- reviewer side ------------------------------------------------------------


def conflicted_user_ids(appeal: Appeal) -> set[int]:
    """Everyone who decided or approved a decision this appeal challenges."""
    decisions = Q(pk__in=[]) if appeal.action_id is None else Q(actions=appeal.action_id)
    if appeal.kind == AppealKind.FOLLOWERS:
        decisions |= Q(actions__in=appeal.follower_reviews.values("purge_action"))
    from cases.models import Decision

    ids = set()
    for decided_by, approved_by in Decision.objects.filter(decisions).values_list("decided_by", "approved_by"):
        ids.add(decided_by)
        if approved_by:
            ids.add(approved_by)
    return ids


def conflicted_appeals(user) -> QuerySet[Appeal]:
    took_part = Q(decided_by=user) | Q(approved_by=user)
    from cases.models import Decision

    decisions = Decision.objects.filter(took_part)
    return Appeal.objects.filter(
        Q(action__decision__in=decisions)
        | Exists(PurgedFollowerReview.objects.filter(appeal=OuterRef("pk"), purge_action__decision__in=decisions))
    )


def appeal_queue() -> QuerySet[Appeal]:
    """Open appeals, money at stake first, then oldest first."""
    return (
        Appeal.objects.filter(status__in=OPEN_APPEAL_STATUSES)
        .select_related("account", "action", "assignee")
        .order_by("-money_at_stake", "submitted_at", "id")
    )


def claimable_appeals_for(user) -> QuerySet[Appeal]:
    return appeal_queue().exclude(pk__in=conflicted_appeals(user).values("pk"))


def queue_summary(user, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    open_appeals = Appeal.objects.filter(status__in=OPEN_APPEAL_STATUSES)
    counts = open_appeals.aggregate(
        total=Count("id"),
        money=Count("id", filter=Q(money_at_stake=True)),
        unclaimed=Count("id", filter=Q(assignee__isnull=True) | Q(claim_expires_at__lte=now)),
        followers=Count("id", filter=Q(kind=AppealKind.FOLLOWERS)),
    )
    oldest = open_appeals.order_by("submitted_at").values_list("submitted_at", flat=True).first()
    mine = list(
        open_appeals.filter(assignee=user, claim_expires_at__gt=now).select_related("account").order_by("submitted_at")
    )
    return {**counts, "oldest": oldest, "mine": mine, "top": list(appeal_queue()[:5])}


def reversible_actions(appeal: Appeal) -> list[EnforcementAction]:
    """For an action appeal: the appealed action and its siblings from the same decision
    on the same writer that are still applied; the reviewer picks which to reverse."""
    if appeal.action_id is None:
        return []
    action = appeal.action
    siblings = EnforcementAction.objects.filter(account_id=appeal.account_id, status=ActionStatus.APPLIED)
    siblings = siblings.filter(decision_id=action.decision_id) if action.decision_id else siblings.filter(pk=action.pk)
    return list(siblings.select_related("story").order_by("id"))


@dataclass
class FollowerEvidence:
    review: PurgedFollowerReview
    age_days: int | None
    detector: str
    score: float | None
    reasons_genuine: list[str] = field(default_factory=list)
    reasons_fake: list[str] = field(default_factory=list)
    profile: dict | None = None  # cases.evidence.genuineness, every part with its points


def _detector_by_case(case_ids) -> dict[int, tuple[str, float | None]]:
    best: dict[int, tuple[str, float | None]] = {}
    for case_id, name, version, score in Signal.objects.filter(
        case_id__in=case_ids, source=SignalSource.DETECTOR
    ).values_list("case_id", "detector_name", "detector_version", "score"):
        current = best.get(case_id)
        if current is None or (score or 0) > (current[1] or 0):
            best[case_id] = (f"{name} {version}".strip(), score)
    return best


def judge_follower(account: Account, *, score: float | None, now: datetime) -> tuple[list[str], list[str], str]:
    """Evidence for and against an account being a genuine reader, and the verdict it
    suggests: genuine when two of age, own writing and reading point that way."""
    from appeals.models import FollowerVerdict

    genuine, fake = [], []
    age = (now - account.joined_at).days if account.joined_at else None
    if age is None:
        fake.append("join date unknown")
    elif age >= 90:
        genuine.append(f"account is {age} days old")
    else:
        fake.append(f"account is only {age} days old")
    if account.story_count:
        genuine.append(f"wrote {account.story_count} stories")
    else:
        fake.append("has written nothing")
    if account.reads_last_30_days >= 5:
        genuine.append(f"read {account.reads_last_30_days} stories in the last 30 days")
    else:
        fake.append(f"read {account.reads_last_30_days} stories in the last 30 days")
    if score is not None and score >= 0.9:
        fake.append(f"detector score {score:.2f}")
    suggested = FollowerVerdict.REINSTATE if len(genuine) >= 2 else FollowerVerdict.KEEP_PURGED
    return genuine, fake, suggested


def follower_evidence(appeal: Appeal, *, now: datetime | None = None) -> list[FollowerEvidence]:
    now = now or timezone.now()
    reviews = list(appeal.follower_reviews.select_related("follower", "purge_action").order_by("follower__handle"))
    detectors = _detector_by_case({r.purge_action.case_id for r in reviews})
    profiles = genuineness_profiles([r.follower for r in reviews], now=now)
    rows = []
    for review in reviews:
        detector, score = detectors.get(review.purge_action.case_id, ("", None))
        genuine, fake, _ = judge_follower(review.follower, score=score, now=now)
        age = (now - review.follower.joined_at).days if review.follower.joined_at else None
        rows.append(FollowerEvidence(review, age, detector, score, genuine, fake, profiles[review.follower_id]))
    return rows


def appeal_for_review(pk: int) -> Appeal:
    return Appeal.objects.select_related(
        "account",
        "action__case__queue",
        "action__story",
        "action__decision__decided_by",
        "action__decision__approved_by",
        "action__decision__policy",
        "assignee",
        "decided_by",
    ).get(pk=pk)


def purge_decisions(appeal: Appeal):
    """The decisions behind the purges a follower appeal challenges, with their deciders."""
    from cases.models import Decision

    return (
        Decision.objects.filter(actions__in=appeal.follower_reviews.values("purge_action"))
        .select_related("decided_by", "approved_by", "case__account", "policy")
        .distinct()
        .order_by("decided_at")
    )


# --- restoration progress -----------------------------------------------------


@dataclass
class Progress:
    action_id: int
    label: str
    total: int
    done: int
    finished: bool
    delayed: bool = False  # a run failed; the outbox retries it (or gave up until an operator retries)

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return int(100 * self.done / self.total) if self.total else 0


def has_restoration(summary: dict) -> bool:
    """Whether a decided appeal gives the writer anything back that takes time."""
    return bool(summary.get("actions") or summary.get("restoration_ids"))


def restoration_progress_for(appeal: Appeal, *, writer_only: bool = True) -> list[Progress]:
    """Progress of what the appeal gives back: the appellant's reversed actions and the
    restorations of their follows (`writer_only`), or also the reversals of other
    accounts' actions the reviewer chose (the back-office page)."""
    summary = appeal.restored_summary or {}
    ids = [a["id"] for a in summary.get("actions", [])] if writer_only else summary.get("reversed_action_ids", [])
    rows = []
    if ids:
        entries = {
            e.action_id: e
            for e in OutboxEntry.objects.filter(action_id__in=ids, operation=OutboxOperation.REVERSE).select_related(
                "action__account"
            )
        }
        for action_id in ids:
            entry = entries.get(action_id)
            if entry is None:
                rows.append(Progress(action_id, f"action #{action_id}", 0, 0, False))
                continue
            action = entry.action
            rows.append(
                Progress(
                    action_id,
                    f"{action.get_outcome_display()} on {action.account}",
                    entry.progress_total,
                    entry.progress_done,
                    entry.done_at is not None,
                    entry.done_at is None and bool(entry.gave_up_at or entry.last_error),
                )
            )
    if summary.get("restoration_ids"):
        for row in appeal.restorations.select_related("follower").order_by("id"):
            rows.append(
                Progress(
                    row.purge_action_id,
                    f"Follows from {row.follower}",
                    row.progress_total,
                    row.progress_done,
                    row.status == "done",
                    row.status != "done" and bool(row.last_error),
                )
            )
    return rows


def restoration_finished(appeal: Appeal) -> bool:
    return all(p.finished for p in restoration_progress_for(appeal))


def followers_restored_count(appeal: Appeal) -> int:
    """Edges to the writer that are active again among the reinstated followers."""
    reinstated = appeal.follower_reviews.filter(verdict="reinstate").values("follower")
    return Follow.objects.filter(followee_id=appeal.account_id, follower__in=reinstated, is_active=True).count()


# --- writer's status page -------------------------------------------------------


@dataclass
class WriterStatus:
    """Everything the status page shows, and nothing else: no notes, no staff names."""

    reference: str
    status: str
    status_label: str
    subject: str
    submitted_at: datetime
    decided_at: datetime | None
    statement: str
    restored: list[str]
    restoring: bool
    percent: int
    files: list[str]
    steps: list[tuple[str, bool]]
    delayed: bool = False
    appealed_statement: str = ""


def appeal_by_token(token: str) -> Appeal | None:
    if not token or len(token) > 64:
        return None
    return Appeal.objects.select_related("account", "action__story").filter(tracking_token=token).first()


def _action_text(action: EnforcementAction) -> str:
    """What the writer reads about an action, in the active language."""
    text = str(ACTION_TEXT.get(action.outcome) or outcome_name(action.outcome))
    if action.story_id:
        text = _("%(action)s: “%(title)s”") % {"action": text, "title": action.story.title or _("your response")}
    return text


# The appeal's status as the writer reads it.
WRITER_STATUS_LABELS = {
    AppealStatus.SUBMITTED: gettext_lazy("Submitted"),
    AppealStatus.IN_REVIEW: gettext_lazy("In review"),
    AppealStatus.UPHELD: gettext_lazy("Decision upheld"),
    AppealStatus.OVERTURNED: gettext_lazy("Overturned"),
    AppealStatus.PARTIALLY_OVERTURNED: gettext_lazy("Partially overturned"),
}


def writer_subject(appeal: Appeal) -> str:
    if appeal.kind == AppealKind.FOLLOWERS:
        if appeal.followers_dropped_on:
            return _("Your followers dropped around %(date)s") % {"date": writer_date(appeal.followers_dropped_on)}
        return _("Your followers dropped")
    return _action_text(appeal.action)


def writer_status(appeal: Appeal) -> WriterStatus:
    decided = appeal.status not in OPEN_APPEAL_STATUSES
    summary = appeal.restored_summary or {}
    restored: list[str] = []
    restoring = False
    delayed = False
    percent = 100
    if decided and has_restoration(summary):
        finished = bool(summary.get("completed_at"))
        if not finished:
            progress = restoration_progress_for(appeal)
            finished = all(p.finished for p in progress)
            delayed = any(p.delayed for p in progress)
            total = sum(max(p.total, 1) for p in progress)
            done = sum(p.total if p.finished else p.done for p in progress)
            percent = int(100 * done / total) if total else 0
        restoring = not finished
        restored.extend(restored_lines(summary.get("actions", [])))
        if summary.get("followers"):
            count = summary["followers"].get("restored") if finished else None
            if count is None and finished:
                count = followers_restored_count(appeal)
            if finished:
                restored.append(
                    ngettext("%(count)s follower restored", "%(count)s followers restored", count)
                    % {"count": f"{count:,}"}
                )
            else:
                expected = summary["followers"].get("expected", 0)
                restored.append(
                    ngettext("Restoring %(count)s follower", "Restoring %(count)s followers", expected)
                    % {"count": f"{expected:,}"}
                )
    steps = [
        (_("Submitted"), True),
        (_("In review"), appeal.status != AppealStatus.SUBMITTED),
        (_("Decision"), decided),
    ]
    return WriterStatus(
        reference=f"A-{appeal.pk:06d}",
        status=appeal.status,
        status_label=str(WRITER_STATUS_LABELS.get(appeal.status, appeal.get_status_display())),
        subject=writer_subject(appeal),
        submitted_at=appeal.submitted_at,
        decided_at=appeal.decided_at,
        statement=appeal.decision_statement if decided else "",
        restored=restored,
        restoring=restoring,
        percent=percent,
        files=[f.original_name for f in appeal.files.all()],
        steps=steps,
        delayed=delayed,
        appealed_statement=appealed_statement(appeal),
    )


def appeals_awaiting_restoration() -> QuerySet[Appeal]:
    """Decided appeals that reversed something and have not recorded completion yet."""
    return (
        Appeal.objects.exclude(status__in=OPEN_APPEAL_STATUSES)
        .filter(Q(restored_summary__has_key="actions") | Q(restored_summary__has_key="restoration_ids"))
        .exclude(restored_summary__has_key="completed_at")
        .order_by("decided_at", "id")
    )


# --- what a decision will change (the confirmation step) ------------------------------------


@dataclass
class AppealPlan:
    """Exactly what deciding an appeal this way changes, shown to the reviewer before it
    is applied. The fingerprint lets the service refuse a plan that changed since."""

    outcome: str
    own_actions: list[dict] = field(default_factory=list)
    restore: list[dict] = field(default_factory=list)
    requeue: list[dict] = field(default_factory=list)
    reinstate: list[dict] = field(default_factory=list)
    keep: list[dict] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        import hashlib
        import json

        payload = {
            "outcome": self.outcome,
            "own": [a["id"] for a in self.own_actions],
            "restore": [(r["review"], r["edges"]) for r in self.restore],
            "requeue": [(r["review"], r["case"], r["state"]) for r in self.requeue],
            "reinstate": [(r["review"], [a["id"] for a in r["actions"]]) for r in self.reinstate],
            "keep": [r["review"] for r in self.keep],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    @property
    def reverse_action_ids(self) -> list[int]:
        ids = [a["id"] for a in self.own_actions]
        for row in self.reinstate:
            ids.extend(a["id"] for a in row["actions"])
        return ids

    @property
    def changes_nothing(self) -> bool:
        return not (self.own_actions or self.restore or self.requeue or self.reinstate)


def _action_row(action: EnforcementAction, *, edges: int | None = None, followees: int | None = None) -> dict:
    label = action.get_outcome_display()
    if action.story_id:
        label += f" on “{action.story.title}”"
    if edges is not None:
        label += f": {_plural(edges, 'follow')} back to {_plural(followees, 'account')}"
    return {"id": action.pk, "outcome": action.outcome, "label": label}


def appeal_plan(
    appeal: Appeal, *, outcome: str, own_action_ids: set[int], genuine_ids: set[int], reverse_ids: set[int]
) -> AppealPlan:
    """`own_action_ids`: the appellant's actions to reverse (action appeals);
    `genuine_ids`: PurgedFollowerReview ids judged genuine; `reverse_ids`: those of them
    whose own actions the reviewer chose to reverse (the others' cases are re-queued)."""
    plan = AppealPlan(outcome=outcome)
    if own_action_ids:
        for action in EnforcementAction.objects.filter(pk__in=own_action_ids).select_related("story").order_by("id"):
            plan.own_actions.append(_action_row(action))
    if appeal.kind != AppealKind.FOLLOWERS:
        return plan
    reviews = list(
        appeal.follower_reviews.select_related("follower", "purge_action__case").order_by("follower__handle")
    )
    keys = {r.pk: _purge_key(r.purge_action) for r in reviews if r.pk in genuine_ids}
    to_appellant = dict(
        Follow.objects.filter(followee_id=appeal.account_id, is_active=False, removed_by__in=set(keys.values()))
        .values("removed_by")
        .annotate(n=Count("id"))
        .values_list("removed_by", "n")
    )
    reversing = [r for r in reviews if r.pk in genuine_ids and r.pk in reverse_ids]
    own_by_account: dict[int, list[EnforcementAction]] = {}
    if reversing:
        cases = {r.purge_action.case_id for r in reversing}
        for action in (
            EnforcementAction.objects.filter(
                case_id__in=cases, account_id__in={r.follower_id for r in reversing}, status=ActionStatus.APPLIED
            )
            .select_related("story")
            .order_by("id")
        ):
            own_by_account.setdefault(action.account_id, []).append(action)
    purge_keys = {_purge_key(a) for actions in own_by_account.values() for a in actions if _is_purge(a)}
    edge_totals = {
        row["removed_by"]: row
        for row in Follow.objects.filter(removed_by__in=purge_keys, is_active=False)
        .values("removed_by")
        .annotate(n=Count("id"), followees=Count("followee", distinct=True))
    }
    for review in reviews:
        handle = review.follower.handle
        if review.pk not in genuine_ids:
            plan.keep.append({"review": review.pk, "account": handle})
            continue
        edges = to_appellant.get(keys[review.pk], 0)
        plan.restore.append(
            {"review": review.pk, "account": handle, "purge_action": review.purge_action_id, "edges": edges}
        )
        if review.pk in reverse_ids:
            rows = []
            for action in own_by_account.get(review.follower_id, []):
                totals = edge_totals.get(_purge_key(action), {"n": 0, "followees": 0}) if _is_purge(action) else None
                rows.append(
                    _action_row(action, edges=totals["n"], followees=totals["followees"])
                    if totals
                    else _action_row(action)
                )
            plan.reinstate.append(
                {"review": review.pk, "account": handle, "account_id": review.follower_id, "actions": rows}
            )
        else:
            case = review.purge_action.case
            state = "requeue" if case.status in ("decided", "dismissed") else "already_open"
            plan.requeue.append({"review": review.pk, "account": handle, "case": case.pk, "state": state})
    return plan


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'s' if n != 1 else ''}"


def _is_purge(action: EnforcementAction) -> bool:
    return action.outcome == Outcome.FOLLOWERS_PURGE


def _purge_key(action: EnforcementAction) -> str:
    return (action.effect or {}).get("removed_by") or action.idempotency_key
