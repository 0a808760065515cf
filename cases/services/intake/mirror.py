"""The back-office copies of the accounts, stories and readers a chunk of signals
names: read in bulk, the missing ones created from account_data/story_data.

Signals never change platform facts: account_data/story_data only create a copy the
back-office does not have yet (marked facts_pending until the platform mirror
confirms it, moderation.mirror). Values differing from a known copy are ignored and
reported back; only the platform's own client changes facts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from moderation import setwise
from moderation.mirror.concurrency import insert_missing
from moderation.models import Account, PartnerStatus, Story
from moderation.signals import stories_written

ACCOUNT_DATA_FIELDS = ("handle", "display_name", "email", "partner_status", "follower_count")
STORY_DATA_FIELDS = (
    "title",
    "url",
    "body",
    "is_paywalled",
    "distribution",
    "ai_disclosure",
    "kind",
    "published_at",
)
_API_NAMES = {"is_paywalled": "paywalled"}  # story_data's field names where they differ
IGNORED = "ignored: platform facts come only from the platform"


def chunk_accounts(entries, *, now: datetime) -> tuple[dict[str, Account], dict[str, int]]:
    """Accounts and readers of a chunk by platform id, the missing ones created (from the
    first item's account_data, or as a reader placeholder). Also: which item created which."""
    wanted = {item.account for _, item in entries} | {item.reporter for _, item in entries if item.reporter}
    accounts = {a.platform_id: a for a in setwise.read_any(Account, "platform_id", wanted)}
    created: dict[str, int] = {}
    new: list[Account] = []
    for i, item in entries:
        if item.account not in accounts and item.account_data:
            account = Account(platform_id=item.account, facts_pending=True)
            apply_data(account, item.account_data, ACCOUNT_DATA_FIELDS)
            enrol(account, now=now)
            account.full_clean(validate_unique=False, validate_constraints=False)
            accounts[item.account], created[item.account] = account, i
            new.append(account)
        if item.reporter and item.reporter not in accounts:
            # Readers may not be in the mirror yet: keep a placeholder keyed by their id.
            accounts[item.reporter] = Account(
                platform_id=item.reporter, handle=f"reader-{item.reporter}", facts_pending=True
            )
            new.append(accounts[item.reporter])
        if item.account not in accounts:
            raise Account.DoesNotExist(f"Unknown account {item.account!r} and no account_data to create it.")
    theirs = insert_missing(Account, new)
    accounts.update(theirs)
    for platform_id in theirs:  # created elsewhere a moment ago: the item's data is compared instead
        created.pop(platform_id, None)
    return accounts, created


def chunk_stories(entries, accounts: dict[str, Account]) -> tuple[dict[str, Story], dict[str, int]]:
    """The copy of each story; story_data refreshes it but never a case's snapshot."""
    wanted = {item.story for _, item in entries if item.story}
    if not wanted:
        return {}, {}
    stories = {s.platform_id: s for s in setwise.read_any(Story, "platform_id", wanted)}
    created: dict[str, int] = {}
    new: list[Story] = []
    for i, item in entries:
        if item.story and item.story not in stories:
            if not item.story_data:
                raise Story.DoesNotExist(f"Unknown story {item.story!r} and no story_data to create it.")
            story = Story(platform_id=item.story, author=accounts[item.account], facts_pending=True)
            apply_data(story, item.story_data, STORY_DATA_FIELDS)
            story.full_clean(exclude=["author"], validate_unique=False, validate_constraints=False)
            stories[item.story], created[item.story] = story, i
            new.append(story)
    theirs = insert_missing(Story, new)
    stories.update(theirs)
    stories_written.send(sender=Story, story_ids=[s.pk for s in new if s.pk and s.platform_id not in theirs])
    for platform_id in theirs:
        created.pop(platform_id, None)
    return stories, created


def apply_data(obj, data: dict | None, fields: Iterable[str]) -> list[str]:
    """Set the given fields from data on the in-memory row; the names that changed."""
    changed = []
    for name in fields:
        if data and name in data and getattr(obj, name) != data[name]:
            setattr(obj, name, data[name])
            changed.append(name)
    return changed


def enrol(account: Account, *, now: datetime) -> None:
    if account.partner_status == PartnerStatus.ACTIVE and account.partner_enrolled_at is None:
        account.partner_enrolled_at = now


def ignored_facts(obj, data: dict | None, fields, *, prefix: str) -> dict:
    """The values in data that differ from the known copy, by their API name
    ("account_data.email"): never applied, reported back and audited."""
    if not data:
        return {}
    return {
        f"{prefix}.{_API_NAMES.get(name, name)}": data[name]
        for name in fields
        if name in data and getattr(obj, name) != data[name]
    }
