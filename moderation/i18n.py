"""Writer-facing language: writer pages, notices and emails speak the account's
language as the platform reports it, else the browser's (Accept-Language), else
English. The back-office stays in English.

Notices and emails are written by jobs, outside any request: they render inside
`in_writer_language(account)`, which sets the language for the block only.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

WRITER_PATH_PREFIX = "/appeal/"
FALLBACK = "en"


class WriterLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware (cookie, then Accept-Language) on the writer's pages
    only; everywhere else English, so the back-office reads the same for all staff.
    A writer view that knows the account switches to its language (`activate_for`)."""

    async_capable = False  # the reset below must run after the view, not before

    def __call__(self, request):
        try:
            return super().__call__(request)
        finally:
            # A writer's language must not outlive their request on this thread.
            translation.deactivate()

    def process_request(self, request):
        if request.path_info.startswith(WRITER_PATH_PREFIX):
            return super().process_request(request)
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = translation.get_language()
        return None

    def process_response(self, request, response):
        if request.path_info.startswith(WRITER_PATH_PREFIX):
            return super().process_response(request, response)
        return response


def supported(code: str | None) -> str | None:
    """The language we translate into for a code (`es-MX` → `es`), or None."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def writer_language(account, *, default: str | None = FALLBACK) -> str | None:
    """The language to write to this account in: the platform's, else `default`."""
    return supported(getattr(account, "language", "")) or default


def activate_for(request, account) -> None:
    """On a writer page that knows the account: its language wins over the browser's."""
    language = writer_language(account, default=None)
    if language:
        translation.activate(language)
        request.LANGUAGE_CODE = language


@contextmanager
def in_writer_language(account, *, fallback: str | None = None):
    """Render a notice or email in the account's language; without one, in `fallback`
    (the browser's language a writer request passed on to its job), else English."""
    language = writer_language(account, default=None) or supported(fallback) or FALLBACK
    with translation.override(language):
        yield


@dataclass(frozen=True)
class PolicyText:
    title: str
    description: str


def policy_text(policy, language: str | None = None) -> PolicyText:
    """A policy version's writer-facing title and description in `language` (default:
    the active one), from its catalogue translation; English where none exists."""
    language = supported(language or translation.get_language()) or FALLBACK
    if language != FALLBACK:
        found = next((t for t in policy.translations.all() if t.language == language), None)
        if found is not None:
            return PolicyText(title=found.title, description=found.description)
    return PolicyText(title=policy.title, description=policy.description)


def language_name(code: str | None) -> str:
    """'Español (es)' for staff pages; 'not reported' when the platform gave none."""
    names = dict(settings.LANGUAGES)
    language = supported(code)
    return f"{names[language]} ({language})" if language else ""


def writer_date(value) -> str:
    """A date as the writer's language writes it ('27 November 2026', '27 de noviembre
    de 2026', '2026年11月27日'); the pattern itself is translated."""
    from django.utils.formats import date_format

    return date_format(value, translation.pgettext("date in writer-facing text", "j F Y"))
