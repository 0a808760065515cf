"""The Appeals queue and appeal page in the back-office, driven through the admin."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from appeals import services
from appeals.models import Appeal, AppealStatus
from tests.appeals.factories import applied_action, purge_followers_of
from tests.factories import AccountFactory, StoryFactory, appeals_reviewer, supervisor

pytestmark = pytest.mark.django_db

STATEMENT = "I wrote it myself and can show the drafts to anyone who asks."
PDF = b"%PDF-1.7\n" + b"x" * 32


def file(action, **kw):
    return services.file_appeal(
        account=action.account, action=action, writer_statement=STATEMENT, contact_email="w@example.com", **kw
    )


def test_queue_list_costs_the_same_queries_for_one_or_many(client, django_assert_max_num_queries):
    reviewer = appeals_reviewer()
    client.force_login(reviewer)
    file(applied_action("paywall.remove", story=StoryFactory(is_paywalled=True)))
    with django_assert_max_num_queries(12) as one:
        assert client.get("/admin/appeals/appeal/").status_code == 200
    for _ in range(5):
        file(applied_action("partner.revoke", account=AccountFactory(partner=True)))
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get("/admin/appeals/appeal/")
    assert response.content.decode().count("A-0") >= 6


def test_home_panel_and_claim_next_button(client):
    reviewer = appeals_reviewer()
    appeal = file(applied_action("paywall.remove", story=StoryFactory(is_paywalled=True)))
    client.force_login(reviewer)
    home = client.get("/admin/").content.decode()
    assert "Appeals queue" in home and "Review next appeal" in home
    response = client.post("/admin/appeals/appeal/claim-next/")
    assert response.status_code == 302 and response["Location"] == f"/admin/appeals/appeal/{appeal.pk}/change/"
    appeal.refresh_from_db()
    assert appeal.assignee == reviewer and appeal.status == AppealStatus.IN_REVIEW


def test_appeal_page_shows_case_decision_files_and_decides(client, run_on_commit):
    story = StoryFactory(is_paywalled=True, title="Night baking")
    action = applied_action("paywall.remove", story=story)
    appeal = file(action, files=[SimpleUploadedFile("drafts.pdf", PDF)])
    reviewer = appeals_reviewer()
    client.force_login(reviewer)
    client.post(f"/admin/appeals/appeal/{appeal.pk}/claim/")
    page = client.get(f"/admin/appeals/appeal/{appeal.pk}/change/").content.decode()
    assert STATEMENT in page
    assert "drafts.pdf" in page
    assert action.decision.decided_by.username in page  # reviewers see who decided
    assert "Record decision" in page
    download = client.get(f"/admin/appeals/appeal/{appeal.pk}/files/{appeal.files.get().pk}/")
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content) == PDF

    bad = client.post(f"/admin/appeals/appeal/{appeal.pk}/change/", {"outcome": "overturned", "statement": ""})
    assert bad.status_code == 200 and "This field is required." in bad.content.decode()
    choices = {"outcome": "overturned", "statement": "Restored; sorry.", "internal_note": "detector FP"}
    step_one = client.post(f"/admin/appeals/appeal/{appeal.pk}/change/", choices)
    plan = step_one.context["plan"]
    assert step_one.status_code == 200 and [a["id"] for a in plan.own_actions] == [action.pk]
    story.refresh_from_db()
    assert not story.is_paywalled  # the first step changes nothing
    with run_on_commit():
        done = client.post(
            f"/admin/appeals/appeal/{appeal.pk}/change/",
            {**choices, "plan_fingerprint": plan.fingerprint, "confirm": "1"},
        )
    assert done.status_code == 302
    appeal.refresh_from_db()
    story.refresh_from_db()
    assert appeal.status == AppealStatus.OVERTURNED and story.is_paywalled
    page = client.get(f"/admin/appeals/appeal/{appeal.pk}/change/").content.decode()
    assert "restoration-progress" in page
    restoration = page.split('id="restoration-progress"')[1].split("</table>")[0]
    assert "Done: story put back behind the paywall" in restoration, "said in words: there is nothing to count"
    assert "0 / 0" not in restoration and "<progress" not in restoration


def test_follower_appeal_page_lists_purged_accounts_with_evidence(client, writer):
    purge = purge_followers_of(writer, genuine=1, fake=1)
    appeal = services.file_appeal(
        account=writer,
        action=None,
        followers_dropped_on=timezone.localdate(),
        writer_statement=STATEMENT,
        contact_email=writer.email,
    )
    client.force_login(supervisor())
    page = client.get(f"/admin/appeals/appeal/{appeal.pk}/change/").content.decode()
    for f in purge.genuine + purge.fake:
        assert f"@{f.handle}" in page
    assert "follow-spam-detector 1.4.0" in page
    assert "Genuine: reinstate" in page and "Fake: keep purged" in page
    assert "read 40 stories in the last 30 days" in page
    assert "Record decision" not in page  # supervisors read, never decide


def test_conflicted_reviewer_sees_why_and_gets_no_buttons(client):
    from django.contrib.auth.models import Group

    action = applied_action("paywall.remove", story=StoryFactory(is_paywalled=True))
    decider = action.decision.decided_by
    decider.groups.add(Group.objects.get(name="appeals_reviewer"))
    appeal = file(action)
    client.force_login(decider)
    page = client.get(f"/admin/appeals/appeal/{appeal.pk}/change/").content.decode()
    assert "You took part in the decision this appeal challenges" in page
    assert "Claim this appeal" not in page
    client.post(f"/admin/appeals/appeal/{appeal.pk}/claim/")
    assert Appeal.objects.get(pk=appeal.pk).assignee is None


def test_writers_and_moderators_cannot_open_the_queue(client):
    from tests.factories import moderator

    client.force_login(moderator())
    assert client.get("/admin/appeals/appeal/").status_code == 403


def _follower_appeal_page(client, writer, **purge_kw):
    purge = purge_followers_of(writer, **purge_kw)
    appeal = services.file_appeal(
        account=writer,
        action=None,
        followers_dropped_on=timezone.localdate(),
        writer_statement=STATEMENT,
        contact_email=writer.email,
    )
    reviewer = appeals_reviewer()
    client.force_login(reviewer)
    client.post(f"/admin/appeals/appeal/{appeal.pk}/claim/")
    return purge, appeal


def test_the_confirmation_step_says_exactly_what_each_choice_changes_before_anything_does(
    client, writer, run_on_commit
):
    from cases.models import Case
    from moderation.models import Follow

    purge, appeal = _follower_appeal_page(client, writer, genuine=2, fake=1, extra_edges=3)
    requeued, reinstated = purge.genuine
    fake = purge.fake[0]
    reviews = dict(appeal.follower_reviews.values_list("follower_id", "pk"))
    choices = {
        "outcome": "partially_overturned",
        "followers_to_reinstate": [reviews[requeued.pk], reviews[reinstated.pk]],
        "reverse_followers": [reviews[reinstated.pk]],
        "statement": "Two of the removed accounts are real readers; their follows are back.",
    }
    before = list(Follow.objects.order_by("id").values_list("id", "is_active"))
    response = client.post(f"/admin/appeals/appeal/{appeal.pk}/change/", choices)
    assert response.status_code == 200
    assert list(Follow.objects.order_by("id").values_list("id", "is_active")) == before
    assert Appeal.objects.get(pk=appeal.pk).status == AppealStatus.IN_REVIEW
    html = response.content.decode()
    plan = response.context["plan"]
    assert [(r["account"], r["edges"]) for r in plan.restore] == sorted([(requeued.handle, 1), (reinstated.handle, 1)])
    requeue_case = purge.purge_actions[requeued.pk].case_id
    assert [(r["account"], r["case"], r["state"]) for r in plan.requeue] == [(requeued.handle, requeue_case, "requeue")]
    [row] = plan.reinstate
    assert row["account"] == reinstated.handle
    assert sorted(a["id"] for a in row["actions"]) == sorted(
        [purge.purge_actions[reinstated.pk].pk, purge.suspensions[reinstated.pk].pk]
    )
    assert [r["account"] for r in plan.keep] == [fake.handle]
    assert f"@{requeued.handle} → @{writer.handle}: 1 follow restored" in html
    assert f"case #{requeue_case} re-queued for a fresh human decision" in html
    assert "4 follows back to 4 accounts" in html  # the reinstated account's own purge, in full
    assert f"@{fake.handle}" in html.split('id="plan-keep"')[1]
    assert 'id="confirm-decision"' in html

    with run_on_commit():
        done = client.post(
            f"/admin/appeals/appeal/{appeal.pk}/change/",
            {**choices, "plan_fingerprint": plan.fingerprint, "confirm": "1"},
        )
    assert done.status_code == 302
    assert Case.objects.get(pk=requeue_case).status == "open"
    reinstated.refresh_from_db()
    fake.refresh_from_db()
    assert (reinstated.status, fake.status) == ("active", "suspended")


def test_a_plan_that_changed_since_it_was_shown_is_refused(client, writer):
    from cases.services.requeue import requeue_case
    from tests.factories import supervisor as make_supervisor

    purge, appeal = _follower_appeal_page(client, writer, genuine=1, fake=1)
    choices = {"outcome": "overturned", "statement": "Both are real readers, we were wrong."}
    plan = client.post(f"/admin/appeals/appeal/{appeal.pk}/change/", choices).context["plan"]
    # Meanwhile someone re-queues one of the cases: re-queueing it is no longer what happens.
    from django.db import transaction

    with transaction.atomic():
        requeue_case(case=purge.purge_actions[purge.fake[0].pk].case, actor=make_supervisor(), reason="QA")
    response = client.post(
        f"/admin/appeals/appeal/{appeal.pk}/change/", {**choices, "plan_fingerprint": plan.fingerprint, "confirm": "1"}
    )
    assert response.status_code == 200
    assert "has changed since you confirmed it" in response.content.decode()
    assert "already open for review" in response.content.decode()
    assert Appeal.objects.get(pk=appeal.pk).status == AppealStatus.IN_REVIEW
