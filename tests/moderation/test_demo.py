import pytest
from django.contrib.auth import get_user_model

from moderation.demo import seed_demo_platform
from moderation.models import Account, Follow, PartnerStatus, Story

pytestmark = pytest.mark.django_db


def test_demo_seed_builds_a_believable_platform_and_runs_twice_without_duplicates():
    first = seed_demo_platform(seed=7, writers=60)
    counts = (Account.objects.count(), Story.objects.count(), Follow.objects.count(), get_user_model().objects.count())
    assert len(first.ring_handles) == 30
    assert len(first.fake_handles) >= 5
    assert Account.objects.filter(partner_status=PartnerStatus.ACTIVE).count() >= 30
    assert Story.objects.filter(kind="response").exists()
    ring = Account.objects.get(handle=first.ring_handles[0])
    ring_followers = Follow.objects.filter(followee=ring, is_active=True)
    assert ring_followers.filter(follower__handle__in=first.ring_handles).count() == 29
    assert ring.follower_count == ring_followers.count()
    assert {u for u, _, _ in first.staff} == {"moderator", "moderator2", "senior", "appeals", "supervisor"}

    second = seed_demo_platform(seed=7, writers=60)
    again = (Account.objects.count(), Story.objects.count(), Follow.objects.count(), get_user_model().objects.count())
    assert again == counts
    assert second.ring_handles == first.ring_handles


def _row_counts() -> dict[str, int]:
    from django.apps import apps

    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


def test_seed_demo_run_twice_adds_nothing(django_capture_on_commit_callbacks):
    """`make run` seeds on every start: the whole demo (platform, signals, decisions,
    appeals, supervision) run a second time must not add a single row anywhere."""
    from cases.models import Case, Decision, Signal
    from supervision.models import QASample

    with django_capture_on_commit_callbacks(execute=True):
        seed_demo_platform(seed=7, writers=60)
    first = _row_counts()
    assert Case.objects.exists() and Signal.objects.exists() and Decision.objects.exists()
    _assert_cases_open_when_their_first_signal_came()
    assert QASample.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        seed_demo_platform(seed=7, writers=60)
    second = _row_counts()
    assert {label: (first[label], n) for label, n in second.items() if n != first[label]} == {}


def _assert_cases_open_when_their_first_signal_came():
    """A case "opened a day ago" shows signals received then, not a minute ago."""
    from datetime import timedelta

    from django.db.models import Min

    from cases.models import Case

    cases = Case.objects.annotate(first=Min("signals__received_at")).filter(first__isnull=False)
    assert cases.exists()
    for case in cases:
        assert abs(case.first - case.opened_at) < timedelta(seconds=1), (case.pk, case.first, case.opened_at)
