"""The platform adapter: the one place an enforcement outcome touches the platform.

Callers (cases.services.enforcement) hand over a plain `PlatformCommand`, so this
module never imports the apps built on it. `apply` returns an `effect` dict that
names every value it changed and what it was before, which is what makes an exact
reversal possible. Nothing is ever deleted: removal hides, purges deactivate edges.

- `LocalPlatformAdapter` (default) changes the back-office's mirror of the platform.
- `HttpPlatformAdapter` POSTs to `settings.MODERATION["PLATFORM_URL"]` with an
  idempotency key, retries with backoff, then mirrors the confirmed change locally.

Purges and follow restorations touch up to ~100k edges, so they run in batches of
`BATCH_SIZE` ids, one transaction each, reporting to a `Progress` sink that commits
its cursor in the same transaction. A crashed run re-run continues after the cursor;
since every batch only touches edges still in the old state, nothing is counted twice.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string

from moderation.mirror.bulk import update_rows
from moderation.models import (
    Account,
    AccountStatus,
    Distribution,
    EarningsHold,
    Follow,
    Outcome,
    PartnerStatus,
    Story,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 5000
DEFAULT_HOLD_DAYS = 30


class PlatformError(Exception):
    """The platform refused or could not be reached after every retry."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class PlatformCommand:
    outcome: str
    account_id: int
    story_id: int | None
    idempotency_key: str
    params: dict[str, Any] = field(default_factory=dict)


class Progress(Protocol):
    """Where a batched operation keeps its place. `advance` is called inside each
    batch's transaction, so the cursor commits with the rows it covers."""

    cursor: int

    def start(self, total: int) -> None: ...

    def advance(self, *, done: int, cursor: int) -> None: ...


class NullProgress:
    def __init__(self):
        self.cursor = 0
        self.total = 0
        self.done = 0

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, *, done: int, cursor: int) -> None:
        self.done += done
        self.cursor = cursor


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


STORY_FIELD = {
    Outcome.DISTRIBUTION_NETWORK_ONLY: ("distribution", Distribution.NETWORK_ONLY),
    Outcome.DISTRIBUTION_NO_BOOST: ("distribution", Distribution.NO_BOOST),
    Outcome.DISTRIBUTION_GENERAL: ("distribution", Distribution.GENERAL),
    Outcome.PAYWALL_REMOVE: ("is_paywalled", False),
    Outcome.STORY_REMOVE: ("is_removed", True),
}
ACCOUNT_STATUS = {
    Outcome.ACCOUNT_RESTRICT: AccountStatus.RESTRICTED,
    Outcome.ACCOUNT_SUSPEND: AccountStatus.SUSPENDED,
}
_STATUS_RANK = {AccountStatus.ACTIVE: 0, AccountStatus.RESTRICTED: 1, AccountStatus.SUSPENDED: 2}


# Composition -------------------------------------------------------------------
#
# Several applied actions may set the same attribute (two suspensions, a restriction and
# a suspension, two paywall removals). The attribute's value is what the actions still
# standing imply on top of the baseline, the platform's own value before the first of
# them. The caller (cases.services.enforcement) passes the other standing actions in
# `params["standing"]` as `{"key", "outcome", "effect"}` dicts, read under a lock on the
# account or story, and each applied effect records the baseline it started from.

ATTRIBUTE_OF = {
    Outcome.ACCOUNT_RESTRICT: "account_status",
    Outcome.ACCOUNT_SUSPEND: "account_status",
    Outcome.PARTNER_REVOKE: "partner",
    Outcome.DISTRIBUTION_NETWORK_ONLY: "distribution",
    Outcome.DISTRIBUTION_NO_BOOST: "distribution",
    Outcome.DISTRIBUTION_GENERAL: "distribution",
    Outcome.PAYWALL_REMOVE: "is_paywalled",
    Outcome.STORY_REMOVE: "is_removed",
}
_DISTRIBUTION_RANK = {Distribution.GENERAL: 0, Distribution.NO_BOOST: 1, Distribution.NETWORK_ONLY: 2}


def sharing_outcomes(outcome: str) -> frozenset[str]:
    """The outcomes that set the same attribute as `outcome` (empty: it composes with none)."""
    attribute = ATTRIBUTE_OF.get(outcome)
    if attribute is None:
        return frozenset()
    return frozenset(o.value for o, a in ATTRIBUTE_OF.items() if a == attribute)


def compose(outcome: str, baseline: Any, outcomes: list[str]) -> Any:
    """The value of `outcome`'s attribute while `outcomes` stand, over `baseline`.

    Account status and distribution take the strictest (restricting a suspended account
    leaves it suspended); `distribution.general` lifts the baseline, never another
    action. Paywall and story removal hold while any removal stands. Partner status is
    `revoked` while any revocation stands; otherwise the baseline dict."""
    attribute = ATTRIBUTE_OF[Outcome(outcome)]
    if attribute == "account_status":
        return max([baseline, *(ACCOUNT_STATUS[Outcome(o)] for o in outcomes)], key=_STATUS_RANK.__getitem__)
    if attribute == "distribution":
        base = Distribution.GENERAL if Outcome.DISTRIBUTION_GENERAL in outcomes else baseline
        values = [STORY_FIELD[Outcome(o)][1] for o in outcomes]
        return max([base, *values], key=_DISTRIBUTION_RANK.__getitem__)
    if attribute == "partner":
        return PartnerStatus.REVOKED if outcomes else baseline
    return STORY_FIELD[Outcome(outcome)][1] if outcomes else baseline


def standing_of(command: PlatformCommand) -> list[dict]:
    return list(command.params.get("standing") or [])


def _baseline(standing: list[dict], key: str, current: Any) -> Any:
    """The value before the first standing action: every action applied while another
    stood inherited that one's baseline, so the earliest standing one carries it."""
    for item in standing:
        change = (item.get("effect") or {}).get(key)
        if change:
            return change.get("baseline", change.get("before"))
    return current


@dataclass(frozen=True)
class _Skipped:
    why: str


def _left(command: PlatformCommand) -> dict:
    """Names the actions still standing after a reversal, for the record."""
    keys = [s.get("key") for s in standing_of(command)]
    return {"standing": keys} if keys else {}


def _needs_story(command: PlatformCommand) -> None:
    if command.story_id is None:
        raise PlatformError(f"{command.outcome} needs a story.", retryable=False)


def _story_change(story: Story, name: str, command: PlatformCommand) -> tuple[dict, bool]:
    """Set what the story's attribute should be with this command standing (on the row
    in memory); returns the effect and whether the row changed."""
    standing = standing_of(command)
    before = getattr(story, name)
    baseline = _baseline(standing, "story", before)
    after = compose(command.outcome, baseline, [s["outcome"] for s in standing] + [command.outcome])
    if before != after:
        setattr(story, name, after)
    effect = {"story": {"id": story.pk, "field": name, "before": before, "after": after, "baseline": baseline}}
    return effect, before != after


def _account_status_change(account: Account, command: PlatformCommand) -> tuple[dict, bool]:
    standing = standing_of(command)
    before = account.status
    baseline = _baseline(standing, "account_status", before)
    # Strictest wins: restricting a suspended account leaves it suspended.
    after = compose(command.outcome, baseline, [s["outcome"] for s in standing] + [command.outcome])
    moved = after != before
    if moved:
        account.status = after
    return {"account_status": {"id": account.pk, "before": before, "after": after, "baseline": baseline}}, moved


def _partner_change(account: Account, command: PlatformCommand) -> tuple[dict, bool]:
    before = {
        "status": account.partner_status,
        "enrolled_at": _iso(account.partner_enrolled_at),
        "revoked_at": _iso(account.partner_revoked_at),
    }
    baseline = _baseline(standing_of(command), "partner", before)
    moved = account.partner_status != PartnerStatus.REVOKED
    if moved:
        account.partner_status = PartnerStatus.REVOKED
        account.partner_revoked_at = timezone.now()
    effect = {
        "partner": {
            "id": account.pk,
            "before": before,
            "baseline": baseline,
            "revoked_at": _iso(account.partner_revoked_at),
        }
    }
    return effect, moved


ACCOUNT_SETTERS = frozenset({*ACCOUNT_STATUS, Outcome.PARTNER_REVOKE})
# What `apply_many` writes back of a changed row (its values held in memory, under lock).
MANY_FIELDS = {
    Account: ["status", "partner_status", "partner_revoked_at", "updated_at"],
    Story: ["distribution", "is_paywalled", "is_removed", "updated_at"],
}


def _locked(model, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {row.pk: row for row in model.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


def _row(rows: dict[int, Any], model, pk: int):
    if pk not in rows:
        raise model.DoesNotExist(f"{model._meta.label} {pk} does not exist.")
    return rows[pk]


class PlatformAdapter(ABC):
    """Base class. `transactional` adapters only write this database, so the caller
    may run a non-batched call inside its own transaction together with the state
    change it records."""

    transactional = False

    def is_batched(self, outcome: str) -> bool:
        return outcome == Outcome.FOLLOWERS_PURGE

    @abstractmethod
    def apply(self, command: PlatformCommand, *, progress: Progress | None = None) -> dict: ...

    def apply_many(self, commands: list[PlatformCommand]) -> list[dict | PlatformError]:
        """Apply single changes (never batched outcomes) in the caller's transaction, one
        answer per command: its effect, or the `PlatformError` that refused it alone. No
        two commands set the same attribute of the same account or story (the caller
        splits those into rounds), so each one's `standing` is complete. This default
        takes one call per command, each in a savepoint so a refusal undoes only itself."""
        answers: list[dict | PlatformError] = []
        for command in commands:
            try:
                with transaction.atomic():
                    answers.append(self.apply(command))
            except PlatformError as exc:
                answers.append(exc)
        return answers

    @abstractmethod
    def reverse(self, command: PlatformCommand, effect: dict, *, progress: Progress | None = None) -> dict: ...

    @abstractmethod
    def restore_follows(
        self,
        *,
        removed_by: str,
        follower_ids: list[int] | None = None,
        followee_ids: list[int] | None = None,
        progress: Progress | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> int: ...


class LocalPlatformAdapter(PlatformAdapter):
    """Applies outcomes to the mirror tables (Account, Story, Follow, EarningsHold).

    A single change takes its row lock in the caller's transaction when there is one
    (`savepoint=False`): the enforcement apply rolls back as a whole on any error, so a
    savepoint would only cost two round trips per action."""

    transactional = True

    def apply(self, command: PlatformCommand, *, progress: Progress | None = None) -> dict:
        outcome = Outcome(command.outcome)
        if outcome in STORY_FIELD:
            return self._set_story(command, STORY_FIELD[outcome][0])
        if outcome in ACCOUNT_STATUS:
            return self._set_account_status(command)
        if outcome == Outcome.PARTNER_REVOKE:
            return self._revoke_partner(command)
        if outcome == Outcome.PARTNER_EARNINGS_HOLD:
            return self._hold_earnings(command)
        if outcome == Outcome.FOLLOWERS_PURGE:
            return self.purge_follows(command, progress=progress or NullProgress())
        return {"outcome": outcome.value}

    def apply_many(self, commands: list[PlatformCommand]) -> list[dict | PlatformError]:
        """Set-based: the accounts and stories the commands set are locked and read in one
        statement each (in id order), each command's effect is worked out on the rows in
        memory exactly as `apply` would, and the changed rows are written in one statement
        per table. Other outcomes (holds, warnings) take `apply`, one by one."""
        accounts = _locked(Account, {c.account_id for c in commands if c.outcome in ACCOUNT_SETTERS})
        stories = _locked(Story, {c.story_id for c in commands if c.outcome in STORY_FIELD and c.story_id})
        changed: dict[type, dict[int, Any]] = {Account: {}, Story: {}}
        answers: list[dict | PlatformError] = []
        for command in commands:
            outcome = Outcome(command.outcome)
            try:
                if outcome in STORY_FIELD:
                    _needs_story(command)
                    row = _row(stories, Story, command.story_id)
                    effect, moved = _story_change(row, STORY_FIELD[outcome][0], command)
                elif outcome in ACCOUNT_STATUS or outcome == Outcome.PARTNER_REVOKE:
                    row = _row(accounts, Account, command.account_id)
                    change = _account_status_change if outcome in ACCOUNT_STATUS else _partner_change
                    effect, moved = change(row, command)
                else:
                    answers.append(self.apply(command))
                    continue
            except PlatformError as exc:
                answers.append(exc)
                continue
            if moved:
                changed[type(row)][row.pk] = row
            answers.append(effect)
        now = timezone.now()
        for model, rows in changed.items():
            for row in rows.values():
                row.updated_at = now
            update_rows(model, list(rows.values()), MANY_FIELDS[model])
        return answers

    def reverse(self, command: PlatformCommand, effect: dict, *, progress: Progress | None = None) -> dict:
        outcome = Outcome(command.outcome)
        with transaction.atomic():
            if "story" in effect:
                return self._restore_story(command, effect["story"])
            if "account_status" in effect:
                return self._restore_account_status(command, effect["account_status"])
            if "partner" in effect:
                return self._restore_partner(command, effect["partner"])
            if "hold" in effect:
                return self._release_hold(effect["hold"])
        if outcome == Outcome.FOLLOWERS_PURGE:
            restored = self.restore_follows(
                removed_by=effect.get("removed_by", command.idempotency_key), progress=progress or NullProgress()
            )
            return {"restored_edges": restored}
        return {}

    # Stories -------------------------------------------------------------

    def _set_story(self, command: PlatformCommand, name: str) -> dict:
        _needs_story(command)
        with transaction.atomic(savepoint=False):
            story = Story.objects.select_for_update().get(pk=command.story_id)
            effect, changed = _story_change(story, name, command)
            if changed:
                story.save(update_fields=[name, "updated_at"])
        return effect

    def _restore_story(self, command: PlatformCommand, change: dict) -> dict:
        story = Story.objects.select_for_update().get(pk=change["id"])
        name = change["field"]
        current = getattr(story, name)
        target = self._composed_target(command, change, current)
        if isinstance(target, _Skipped):
            return {"story": {**change, "skipped": target.why}}
        if current != target:
            setattr(story, name, target)
            story.save(update_fields=[name, "updated_at"])
        return {"story": {"id": story.pk, "field": name, "restored": target, **_left(command)}}

    @staticmethod
    def _composed_target(command: PlatformCommand, change: dict, current: Any) -> Any:
        """What the attribute should be once this action no longer stands, or `_Skipped`
        when the platform changed it since (its own change wins)."""
        standing = [s["outcome"] for s in standing_of(command)]
        baseline = change.get("baseline", change.get("before"))
        expected = compose(command.outcome, baseline, [*standing, command.outcome])
        if current != expected:
            return _Skipped(f"changed since to {current!r}")
        return compose(command.outcome, baseline, standing)

    # Accounts ------------------------------------------------------------

    def _set_account_status(self, command: PlatformCommand) -> dict:
        with transaction.atomic(savepoint=False):
            account = Account.objects.select_for_update().get(pk=command.account_id)
            effect, changed = _account_status_change(account, command)
            if changed:
                account.save(update_fields=["status", "updated_at"])
        return effect

    def _restore_account_status(self, command: PlatformCommand, change: dict) -> dict:
        account = Account.objects.select_for_update().get(pk=change["id"])
        target = self._composed_target(command, change, account.status)
        if isinstance(target, _Skipped):
            return {"account_status": {**change, "skipped": target.why}}
        if account.status != target:
            account.status = target
            account.save(update_fields=["status", "updated_at"])
        return {"account_status": {"id": account.pk, "restored": target, **_left(command)}}

    def _revoke_partner(self, command: PlatformCommand) -> dict:
        with transaction.atomic(savepoint=False):
            account = Account.objects.select_for_update().get(pk=command.account_id)
            effect, changed = _partner_change(account, command)
            if changed:
                account.save(update_fields=["partner_status", "partner_revoked_at", "updated_at"])
        return effect

    def _restore_partner(self, command: PlatformCommand, change: dict) -> dict:
        account = Account.objects.select_for_update().get(pk=change["id"])
        if account.partner_status != PartnerStatus.REVOKED:
            return {"partner": {**change, "skipped": f"changed since to {account.partner_status}"}}
        if standing_of(command):
            return {"partner": {"id": account.pk, "restored": PartnerStatus.REVOKED, **_left(command)}}
        baseline = change.get("baseline", change["before"])
        account.partner_status = baseline["status"]
        account.partner_enrolled_at = _dt(baseline["enrolled_at"])
        account.partner_revoked_at = _dt(baseline["revoked_at"])
        account.save(update_fields=["partner_status", "partner_enrolled_at", "partner_revoked_at", "updated_at"])
        return {"partner": {"id": account.pk, "restored": baseline}}

    def _hold_earnings(self, command: PlatformCommand) -> dict:
        now = timezone.now()
        ends_at = _dt(command.params.get("ends_at")) or now + timedelta(
            days=int(command.params.get("days", DEFAULT_HOLD_DAYS))
        )
        hold, _ = EarningsHold.objects.get_or_create(
            placed_by=command.idempotency_key,
            defaults={"account_id": command.account_id, "starts_at": now, "ends_at": ends_at},
        )
        return {"hold": {"id": hold.pk, "starts_at": _iso(hold.starts_at), "ends_at": _iso(hold.ends_at)}}

    def _release_hold(self, change: dict) -> dict:
        released = EarningsHold.objects.filter(pk=change["id"], released_at__isnull=True).update(
            released_at=timezone.now()
        )
        return {"hold": {"id": change["id"], "released": bool(released)}}

    # Follow edges ----------------------------------------------------------

    def purge_follows(self, command: PlatformCommand, *, progress: Progress, batch_size: int = BATCH_SIZE) -> dict:
        """Deactivate every active edge the (fake) account made, batch by batch."""
        key = command.idempotency_key
        edges = Follow.objects.filter(follower_id=command.account_id)
        if progress.cursor == 0:
            with transaction.atomic():
                progress.start(edges.filter(is_active=True).count())
        purged = 0
        while True:
            with transaction.atomic():
                rows = list(
                    edges.filter(is_active=True, id__gt=progress.cursor)
                    .order_by("id")
                    .select_for_update()
                    .values_list("id", "followee_id")[:batch_size]
                )
                if not rows:
                    break
                ids = [r[0] for r in rows]
                now = timezone.now()
                Follow.objects.filter(id__in=ids).update(is_active=False, removed_at=now, removed_by=key)
                # One follower follows each account at most once (unique edge): -1 each.
                Account.objects.filter(id__in=[r[1] for r in rows]).update(
                    follower_count=Greatest(F("follower_count") - 1, Value(0))
                )
                progress.advance(done=len(ids), cursor=ids[-1])
                purged += len(ids)
        total = Follow.objects.filter(removed_by=key).count()
        return {"removed_by": key, "follower_account_id": command.account_id, "purged_edges": total}

    def restore_follows(
        self,
        *,
        removed_by: str,
        follower_ids: list[int] | None = None,
        followee_ids: list[int] | None = None,
        progress: Progress | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> int:
        """Reactivate the edges one action removed (optionally only some followers or
        followees: an appeal may reinstate only the genuine ones). Returns how many
        edges this run restored."""
        progress = progress or NullProgress()
        edges = Follow.objects.filter(removed_by=removed_by, is_active=False, unfollowed_at__isnull=True)
        if follower_ids is not None:
            edges = edges.filter(follower_id__in=follower_ids)
        if followee_ids is not None:
            edges = edges.filter(followee_id__in=followee_ids)
        if progress.cursor == 0:
            with transaction.atomic():
                progress.start(edges.count())
        restored = 0
        while True:
            with transaction.atomic():
                rows = list(
                    edges.filter(id__gt=progress.cursor)
                    .order_by("id")
                    .select_for_update()
                    .values_list("id", "followee_id")[:batch_size]
                )
                if not rows:
                    break
                ids = [r[0] for r in rows]
                Follow.objects.filter(id__in=ids).update(is_active=True, removed_at=None, removed_by="")
                _bump_followers([r[1] for r in rows])
                progress.advance(done=len(ids), cursor=ids[-1])
                restored += len(ids)
        return restored


def _bump_followers(followee_ids: list[int]) -> None:
    """+1 per restored edge; several followers of one account may be in a batch."""
    counts: dict[int, int] = {}
    for fid in followee_ids:
        counts[fid] = counts.get(fid, 0) + 1
    by_count: dict[int, list[int]] = {}
    for fid, n in counts.items():
        by_count.setdefault(n, []).append(fid)
    for n, ids in by_count.items():
        Account.objects.filter(id__in=ids).update(follower_count=F("follower_count") + n)


class HttpPlatformAdapter(PlatformAdapter):
    """Tells the platform first; once it confirms, mirrors the change locally.

    Every request carries `Idempotency-Key`, so a retry after a timeout that did reach
    the platform changes nothing twice. 5xx, 429 and network errors are retried with
    exponential backoff; other 4xx are final.
    """

    def __init__(self, *, base_url: str | None = None, retries: int | None = None, backoff: float | None = None):
        conf = settings.MODERATION
        self.base_url = (base_url or conf.get("PLATFORM_URL") or "").rstrip("/")
        self.retries = retries if retries is not None else int(conf.get("PLATFORM_RETRIES", 4))
        self.backoff = backoff if backoff is not None else float(conf.get("PLATFORM_RETRY_BACKOFF", 0.5))
        self.timeout = float(conf.get("PLATFORM_TIMEOUT", 10))
        self.local = LocalPlatformAdapter()

    def _post(self, path: str, key: str, payload: dict) -> dict:
        import httpx

        if not self.base_url:
            raise PlatformError("PLATFORM_URL is not configured.", retryable=False)
        last = ""
        for attempt in range(1, self.retries + 1):
            try:
                response = httpx.post(
                    f"{self.base_url}{path}",
                    json=payload,
                    headers={"Idempotency-Key": key},
                    timeout=self.timeout,
                )
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return response.json() if response.content else {}
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code < 500 and response.status_code != 429:
                    raise PlatformError(last, retryable=False)
            logger.warning("platform %s attempt %s/%s failed: %s", path, attempt, self.retries, last)
            if attempt < self.retries and self.backoff:
                time.sleep(self.backoff * 2 ** (attempt - 1))
        raise PlatformError(f"gave up after {self.retries} tries: {last}")

    def _payload(self, command: PlatformCommand) -> dict:
        account = Account.objects.only("platform_id").get(pk=command.account_id)
        story = Story.objects.only("platform_id").get(pk=command.story_id) if command.story_id else None
        return {
            **asdict(command),
            "account_platform_id": account.platform_id,
            "story_platform_id": story.platform_id if story else None,
        }

    def apply(self, command: PlatformCommand, *, progress: Progress | None = None) -> dict:
        remote = self._post("/actions/apply", command.idempotency_key, self._payload(command))
        return {**self.local.apply(command, progress=progress), "platform": remote}

    def apply_many(self, commands: list[PlatformCommand]) -> list[dict | PlatformError]:
        """The platform's API takes one action a request (there is no bulk endpoint): each
        command is its own POST with its own idempotency key, so a chunk resent after a
        crash changes nothing twice there. The confirmed ones are mirrored locally in one
        pass (`LocalPlatformAdapter.apply_many`)."""
        accounts = dict(
            Account.objects.filter(pk__in={c.account_id for c in commands}).values_list("pk", "platform_id")
        )
        stories = dict(
            Story.objects.filter(pk__in={c.story_id for c in commands if c.story_id}).values_list("pk", "platform_id")
        )
        remote: list[dict | PlatformError] = []
        for command in commands:
            payload = {
                **asdict(command),
                "account_platform_id": accounts.get(command.account_id),
                "story_platform_id": stories.get(command.story_id) if command.story_id else None,
            }
            try:
                remote.append(self._post("/actions/apply", command.idempotency_key, payload))
            except PlatformError as exc:
                remote.append(exc)
        confirmed = [c for c, r in zip(commands, remote, strict=True) if not isinstance(r, PlatformError)]
        local = iter(self.local.apply_many(confirmed))
        answers: list[dict | PlatformError] = []
        for reply in remote:
            if isinstance(reply, PlatformError):
                answers.append(reply)
                continue
            mirrored = next(local)
            answers.append(mirrored if isinstance(mirrored, PlatformError) else {**mirrored, "platform": reply})
        return answers

    def reverse(self, command: PlatformCommand, effect: dict, *, progress: Progress | None = None) -> dict:
        payload = {**self._payload(command), "effect": {k: v for k, v in effect.items() if k != "platform"}}
        remote = self._post("/actions/reverse", f"{command.idempotency_key}-reverse", payload)
        return {**self.local.reverse(command, effect, progress=progress), "platform": remote}

    def restore_follows(
        self,
        *,
        removed_by: str,
        follower_ids: list[int] | None = None,
        followee_ids: list[int] | None = None,
        progress: Progress | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> int:
        key = f"{removed_by}-restore-{_digest(follower_ids)}-{_digest(followee_ids)}"
        self._post(
            "/follows/restore",
            key,
            {"removed_by": removed_by, "follower_ids": follower_ids, "followee_ids": followee_ids},
        )
        return self.local.restore_follows(
            removed_by=removed_by,
            follower_ids=follower_ids,
            followee_ids=followee_ids,
            progress=progress,
            batch_size=batch_size,
        )


def _digest(ids: list[int] | None) -> str:
    import hashlib

    if ids is None:
        return "all"
    return hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()[:12]


def get_adapter() -> PlatformAdapter:
    return import_string(settings.MODERATION["PLATFORM_ADAPTER"])()
