import pytest
from django.template.loader import render_to_string

from cases.models import Evidence, EvidenceKind
from cases.selectors import account_history, case_detail
from tests.factories import CaseFactory, EnforcementActionFactory, SignalFactory, StoryFactory

pytestmark = pytest.mark.django_db


def test_case_detail_loads_everything_the_case_page_shows_in_a_fixed_number_of_queries(django_assert_num_queries):
    story = StoryFactory()
    case = CaseFactory(account=story.author, story=story)
    earlier = CaseFactory(account=story.author, policy_family="spam")
    EnforcementActionFactory(decision__case=earlier)
    for _ in range(3):
        signal = SignalFactory(detector=True, account=story.author, story=story, case=case)
        Evidence.objects.create(case=case, kind=EvidenceKind.SIGNAL, signal=signal, title="Detector hit")

    with django_assert_num_queries(6):
        loaded = case_detail(case.pk)
        html = render_to_string("admin/cases/_evidence_timeline.html", {"case": loaded})
        html += render_to_string("admin/cases/_signals.html", {"case": loaded})

    assert [c.pk for c in loaded.account.history_cases] == [earlier.pk]
    assert len(loaded.account.history_actions) == 1
    assert html.count("ai-text-classifier 2.3.0") == 6
    assert "Detector hit" in html


def test_account_history_leaves_out_the_current_case():
    case = CaseFactory()
    other = CaseFactory(account=case.account, policy_family="spam")
    history = account_history(case.account_id, exclude_case_id=case.pk)
    assert [c.pk for c in history.cases] == [other.pk]
