"""The writer reads the statement of reasons where they appeal and where they follow
their appeal, so they need not keep the email; never another writer's."""

import pytest
from django.urls import reverse

from appeals import services
from appeals.tokens import make_magic_token
from cases.notices import make_appeal_token
from tests.appeals.factories import applied_action, notice_for
from tests.factories import AccountFactory, StoryFactory

pytestmark = pytest.mark.django_db

FACTS = "Your story was removed from the paywall because it is AI-generated."


def _other_writers_notice():
    other = AccountFactory(handle="grace", email="grace@example.com")
    action = applied_action("paywall.remove", story=StoryFactory(author=other, is_paywalled=True, title="Not Ada's"))
    type(action.decision).objects.filter(pk=action.decision_id).update(statement="Grace's own facts, private to her.")
    return notice_for(action.decision)


def test_the_appeal_form_from_a_notice_shows_its_statement(client, paywall_notice):
    _other_writers_notice()
    page = client.get(f"/appeal/notice/{make_appeal_token(paywall_notice)}/").content.decode()
    assert "Our statement of reasons" in page and '<details class="statement-box" open>' in page
    assert FACTS in page and "Why I bake at night" in page
    assert "- Remove from paywall: The story was taken out from behind the paywall" in page
    assert "you can appeal until" in page
    assert paywall_notice.appeal_deadline.strftime("%-d %B %Y") in page
    assert "Grace" not in page and "Not Ada" not in page
    assert "Internal" not in page, "the rationale stays private"


def test_the_magic_link_form_shows_one_statement_per_decision_of_this_writer_only(client, writer, paywall_notice):
    _other_writers_notice()
    second = applied_action("story.remove", story=StoryFactory(author=writer, title="Second story"))
    notice_for(second.decision)
    page = client.get(f"/appeal/start/{make_magic_token(writer)}/").content.decode()
    assert "Our statements of reasons" in page and page.count('class="statement-box"') == 2
    assert "Why I bake at night" in page and "Second story" in page
    assert "Grace" not in page


def test_the_status_page_shows_the_statement_of_the_decision_appealed(client, writer, paywall_notice, paywall_action):
    _other_writers_notice()
    appeal = services.file_appeal(
        account=writer,
        action=paywall_action,
        notice=paywall_notice,
        writer_statement="I wrote every word of it myself, over three weekends.",
        contact_email="ada@example.com",
    )
    page = client.get(reverse("appeals:status", args=[appeal.tracking_token])).content.decode()
    assert "The decision you appealed" in page and FACTS in page
    assert paywall_notice.appeal_deadline.strftime("%-d %B %Y") in page
    assert "Grace" not in page and "/appeal/notice/" not in page


def test_a_followers_appeal_has_no_decision_statement(client, writer):
    from tests.appeals.factories import purge_followers_of

    purge_followers_of(writer, genuine=1, fake=1)
    appeal = services.file_appeal(
        account=writer, action=None, writer_statement="My followers are real people.", contact_email="a@b.co"
    )
    page = client.get(reverse("appeals:status", args=[appeal.tracking_token])).content.decode()
    assert "The decision you appealed" not in page
