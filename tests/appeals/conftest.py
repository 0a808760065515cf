import pytest

from tests.appeals.factories import applied_action, decision_for, notice_for
from tests.factories import AccountFactory, StoryFactory, appeals_reviewer


@pytest.fixture
def writer():
    return AccountFactory(handle="ada", email="ada@example.com", partner=True)


@pytest.fixture
def paywall_action(writer):
    story = StoryFactory(author=writer, is_paywalled=True, title="Why I bake at night")
    return applied_action("paywall.remove", story=story)


@pytest.fixture
def paywall_notice(paywall_action):
    return notice_for(paywall_action.decision)


@pytest.fixture
def reviewer():
    return appeals_reviewer(username="arjun")


@pytest.fixture
def partner_actions(writer):
    """partner.revoke + partner.earnings_hold from one decision, both applied."""
    decision = decision_for(writer, code="engagement.ring")
    revoke = applied_action("partner.revoke", account=writer, decision=decision)
    hold = applied_action("partner.earnings_hold", account=writer, decision=decision)
    return revoke, hold
