"""Every supervisor page refuses every other role; anonymous visitors go to the login."""

import pytest
from django.urls import reverse

from moderation.roles import Role
from tests.factories import UserFactory, appeals_reviewer, moderator, senior_moderator, staff, supervisor
from tests.supervision.factories import QASampleFactory

pytestmark = pytest.mark.django_db

GET_PAGES = [
    ("supervision:dashboard", {}),
    ("supervision:detector", {"name": "ai-text-classifier", "version": "2.3.0"}),
    ("supervision:audit", {}),
    ("supervision:decisions", {}),
    ("supervision:decisions_export", {}),
    ("supervision:qa", {}),
    ("supervision:recall", {}),
    ("supervision:recall_detector", {"name": "ai-text-classifier", "version": "2.3.0"}),
    ("supervision:transparency", {}),
    ("supervision:transparency_csv", {}),
    ("supervision:transparency_json", {}),
]
POST_PAGES = [("supervision:audit_verify", {})]

OTHER_ROLES = {
    "moderator": moderator,
    "senior": senior_moderator,
    "appeals": appeals_reviewer,
    "service": lambda: staff(Role.SERVICE),
    "no role": lambda: UserFactory(roles=[]),
}


@pytest.mark.parametrize("role", list(OTHER_ROLES))
def test_other_roles_get_403_on_every_supervisor_page(client, role):
    client.force_login(OTHER_ROLES[role]())
    for name, kwargs in GET_PAGES:
        assert client.get(reverse(name, kwargs=kwargs)).status_code == 403, name
    for name, kwargs in POST_PAGES:
        assert client.post(reverse(name, kwargs=kwargs)).status_code == 403, name


def test_supervisor_only_pages_refuse_others_too(client):
    sample = QASampleFactory()
    client.force_login(moderator())
    assert client.get(reverse("supervision:qa_settle", args=[sample.pk])).status_code == 403
    assert client.get(reverse("supervision:recall_status", args=[1])).status_code == 403


def test_anonymous_is_sent_to_the_login(client):
    for name, kwargs, method in [(n, k, client.get) for n, k in GET_PAGES] + [
        (n, k, client.post) for n, k in POST_PAGES
    ]:
        response = method(reverse(name, kwargs=kwargs))
        assert response.status_code == 302, name
        assert response.url.startswith(reverse("admin:login")), name


def test_a_non_staff_account_is_sent_to_the_login(client):
    client.force_login(UserFactory(is_staff=False, roles=[Role.SUPERVISOR]))
    response = client.get(reverse("supervision:dashboard"))
    assert response.status_code == 302


def test_supervisor_opens_every_page(client):
    client.force_login(supervisor())
    for name, kwargs in GET_PAGES:
        response = client.get(reverse(name, kwargs=kwargs))
        assert response.status_code in (200, 404), name
    assert client.get(reverse("supervision:dashboard")).status_code == 200


def test_qa_review_is_for_reviewers_not_supervisors(client):
    sample = QASampleFactory()
    client.force_login(supervisor())
    assert client.post(reverse("supervision:qa_next")).status_code == 403
    assert client.get(reverse("supervision:qa_review", args=[sample.pk])).status_code == 403
    client.force_login(appeals_reviewer())
    assert client.post(reverse("supervision:qa_next")).status_code == 403  # appeals reviewers never review cases
    client.force_login(moderator())
    assert client.post(reverse("supervision:qa_next")).status_code == 302


def test_the_home_panel_shows_only_to_supervisors(client):
    client.force_login(supervisor())
    assert 'id="panel-supervision"' in client.get(reverse("admin:index")).content.decode()
    client.force_login(moderator())
    home = client.get(reverse("admin:index")).content.decode()
    assert 'id="panel-supervision"' not in home
    assert 'id="panel-qa-review"' in home
