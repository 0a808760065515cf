"""Factories and helpers for the review tests (kept out of tests/factories.py)."""

from django.contrib.auth.models import Group

from cases.models import Queue
from moderation.models import ApiClient
from tests.factories import (
    AccountFactory,
    CaseFactory,
    QueueFactory,
    SignalFactory,
    StoryFactory,
    UserFactory,
    policy,
)


def escalations_queue() -> Queue:
    queue = Queue.objects.filter(slug="escalations").first()
    return queue or QueueFactory(
        slug="escalations", name="Escalations", is_escalation=True, allowed_roles=["senior_moderator"]
    )


def service_user(name="detector-bot"):
    user = UserFactory(username=name, is_staff=False)
    user.groups.set(Group.objects.filter(name="service"))
    ApiClient.objects.get_or_create(name=name, user=user, defaults={"allowed_sources": ["detector"]})
    return user


def story_case(*, code="spam.duplicate", partner=False, queue=None, followers=0, **kwargs):
    """An open case about one story of a (by default) ordinary writer."""
    pol = policy(code)
    account = AccountFactory(partner=partner, follower_count=followers)
    story = StoryFactory(author=account, is_paywalled=partner)
    return CaseFactory(
        account=account, story=story, policy_family=pol.family, policy=pol, queue=queue or QueueFactory(), **kwargs
    )


def account_case(*, code="engagement.bulk_interactions", partner=False, queue=None, **kwargs):
    pol = policy(code)
    account = kwargs.pop("account", None) or AccountFactory(partner=partner)
    return CaseFactory(account=account, policy_family=pol.family, policy=pol, queue=queue or QueueFactory(), **kwargs)


def detector_signal(case, **kwargs):
    return SignalFactory(detector=True, account=case.account, story=case.story, case=case, **kwargs)
