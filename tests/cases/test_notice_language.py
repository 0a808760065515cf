"""Notices speak the writer's language as the platform reports it (English when it
reports none), rule texts included, whatever language the deciding moderator's
request or the job runs in."""

import pytest
from django.utils import translation

from cases.models import Notice
from cases.services import review
from cases.statements import preview
from moderation import access
from moderation.catalogue import CATALOGUE
from moderation.i18n import policy_text
from moderation.models import Policy, PolicyTranslation, SignalSource
from tests.cases.review_factories import detector_signal, story_case
from tests.factories import AccountFactory, SignalFactory, UserFactory, moderator, policy

pytestmark = pytest.mark.django_db

CODE = "ai.undisclosed_generated"
STATEMENT = "Your story reads as AI-generated and carries no disclosure."
# What each language must say, and a line of the English that must not be left in it.
EXPECTED = {
    "en": ["Hello ", "Network-only distribution", "Undisclosed AI-generated writing", "How to appeal"],
    "es": ["Hola, ", "Distribución «Solo red»", "Textos generados por IA sin indicarlo", "Cómo apelar", " de 20"],
    "ja": ["さん", "ネットワーク限定配信", "開示されていない AI 生成文章", "異議申し立ての方法", "年"],
}


def decide(case):
    user = moderator()
    review.claim_case(user=user, case=case)
    marks = {s.pk: True for s in case.signals.filter(source=SignalSource.DETECTOR)}
    return review.decide_case(
        case=case,
        user=user,
        data=review.DecisionInput(
            is_violation=True,
            policy=policy(CODE),
            outcomes=["distribution.network_only"],
            rationale="internal",
            statement=STATEMENT,
            detector_marks=marks,
        ),
    )


@pytest.mark.parametrize("language", ["en", "es", "ja"])
def test_the_statement_of_reasons_is_written_in_the_writers_language(language):
    case = story_case(code=CODE)
    case.account.language = "" if language == "en" else language
    case.account.save(update_fields=["language"])
    detector_signal(case, policy=policy(CODE))
    with translation.override("es" if language != "es" else "ja"):  # the moderator's request language is ignored
        decision = decide(case)
    notice = Notice.objects.get(decision=decision, recipient_kind="writer")
    for words in EXPECTED[language]:
        assert words in notice.body, (language, words, notice.body)
    assert STATEMENT in notice.body  # the moderator's own words are not machine-translated
    assert policy_text(policy(CODE), language).description in notice.body
    assert policy_text(policy(CODE), language).title in notice.subject
    if language != "en":
        assert "How to appeal" not in notice.body and "Duration" not in notice.body


def test_a_reporter_hears_the_outcome_in_their_own_language():
    case = story_case(code=CODE)
    case.account.language = "ja"
    case.account.save(update_fields=["language"])
    reporter = AccountFactory(language="es")
    SignalFactory(
        source=SignalSource.READER_REPORT, reporter=reporter, account=case.account, story=case.story, case=case
    )
    decision = decide(case)
    notice = Notice.objects.get(decision=decision, recipient_kind="reporter")
    assert notice.subject == "El resultado de tu denuncia"
    assert "Gracias por tu denuncia" in notice.body and "Textos generados por IA sin indicarlo" in notice.body


def test_the_statement_preview_shows_staff_the_notice_in_the_writers_language():
    case = story_case(code=CODE)
    case.account.language = "ja"
    case.account.save(update_fields=["language"])
    shown = preview(
        case=case, policy=policy(CODE), outcomes=["distribution.network_only"], facts_text=STATEMENT, hold_days=90
    )
    assert shown.language == "ja"
    assert "ネットワーク限定配信" in shown.body and STATEMENT in shown.body
    assert shown.subject.startswith("あなたのストーリーについての決定")
    assert translation.get_language() != "ja"  # the staff page's own language is untouched
    assert not Notice.objects.exists()


def test_every_catalogue_rule_has_its_spanish_and_japanese_wording():
    for entry in CATALOGUE:
        current = Policy.objects.current().get(code=entry["code"])
        languages = set(current.translations.values_list("language", flat=True))
        assert languages == {"es", "ja"}, entry["code"]
    assert policy_text(policy(CODE), "fr").title == policy(CODE).title  # anything else: English


def test_a_new_version_keeps_translations_while_the_wording_is_unchanged():
    admin = UserFactory(is_superuser=True, is_staff=True)
    edited = policy(CODE)
    edited.default_outcomes = ["warning"]
    same_words = access.publish_policy_version(actor=admin, edited=edited)
    assert set(same_words.translations.values_list("language", flat=True)) == {"es", "ja"}
    reworded = policy(CODE)
    reworded.description = "Undisclosed AI writing is shown to followers only."
    v3 = access.publish_policy_version(actor=admin, edited=reworded)
    assert not v3.translations.exists()
    assert policy_text(v3, "ja").description == "Undisclosed AI writing is shown to followers only."
    earlier = PolicyTranslation.objects.filter(policy__code=CODE, policy__version__lt=v3.version)
    assert earlier.count() == 2 * (v3.version - 1)  # every earlier version keeps its own


def test_staff_see_the_writers_language_on_the_case_page_in_english(client):
    case = story_case(code=CODE)
    case.account.language = "ja"
    case.account.save(update_fields=["language"])
    client.force_login(moderator())
    page = client.get(f"/admin/review/case/{case.pk}/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "Writer's language" in page and "日本語 (ja)" in page
    assert '<html lang="en' in page  # the back-office itself stays English
