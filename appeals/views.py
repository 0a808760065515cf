"""The writer's pages: start (magic link), the appeal form and the status page.
No back-office login; every page works without JavaScript. Thin: services decide."""

from __future__ import annotations

from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods
from django_ratelimit import ALL
from django_ratelimit.core import is_ratelimited

from appeals import selectors, services
from appeals.forms import FOLLOWERS_CHOICE, AppealForm, StartForm
from appeals.tokens import InvalidLink, read_magic_token
from cases.selectors.strikes import writer_standing
from moderation.i18n import activate_for
from moderation.views import ratelimited

RATES = {
    "start_ip": "10/h",
    "start_handle": "5/h",
    "file_ip": "20/h",
    "file_account": "5/h",
    "link_ip": "60/m",
}


def _limited(request, group: str, rate: str, key) -> bool:
    return is_ratelimited(request, group=f"appeals.{group}", key=key, rate=rate, method=ALL, increment=True)


def _fixed(value: str):
    return lambda group, request: value


def _private(response):
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def start(request):
    """Handle + email → a magic link by email. The answer never says whether they matched."""
    form = StartForm(request.POST or None)
    if request.method == "POST":
        handle = request.POST.get("handle", "").strip().lstrip("@").lower()[:64]
        if _limited(request, "start_ip", RATES["start_ip"], "ip") or (
            handle and _limited(request, "start_handle", RATES["start_handle"], _fixed(handle))
        ):
            return ratelimited(request)
        if form.is_valid():
            services.request_magic_link(
                handle=form.cleaned_data["handle"], email=form.cleaned_data["email"], language=get_language()
            )
            return _private(render(request, "writer/check_email.html"))
    return _private(render(request, "writer/start.html", {"form": form}))


def _invalid_link(request, exc: Exception, *, expired: bool):
    status = 410 if expired else 400
    return _private(render(request, "writer/link_invalid.html", {"expired": expired}, status=status))


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def start_form(request, token: str):
    if _limited(request, "link_ip", RATES["link_ip"], "ip"):
        return ratelimited(request)
    try:
        account = read_magic_token(token)
    except InvalidLink as exc:
        return _invalid_link(request, exc, expired=exc.expired)
    return _appeal_form(request, account=account, notice=None)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def notice_form(request, token: str):
    from cases.models import Notice
    from cases.notices import read_appeal_token

    if _limited(request, "link_ip", RATES["link_ip"], "ip"):
        return ratelimited(request)
    try:
        notice_id = read_appeal_token(token)
    except signing.SignatureExpired as exc:
        return _invalid_link(request, exc, expired=True)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        return _invalid_link(request, exc, expired=False)
    notice = (
        Notice.objects.select_related("account").filter(pk=notice_id, recipient_kind=Notice.Recipient.WRITER).first()
    )
    if notice is None:
        return _invalid_link(request, ValueError("no notice"), expired=False)
    return _appeal_form(request, account=notice.account, notice=notice)


def _appeal_form(request, *, account, notice):
    activate_for(request, account)
    options = selectors.appealable_actions(account, notice=notice)
    allow_followers = selectors.can_appeal_followers(account)
    if not options and not allow_followers:
        return _private(render(request, "writer/nothing_to_appeal.html", {"notice": notice}))
    form = AppealForm(
        request.POST or None,
        request.FILES or None,
        options=options,
        allow_followers=allow_followers,
        initial={"contact_email": account.email},
    )
    if request.method == "POST":
        if _limited(request, "file_ip", RATES["file_ip"], "ip") or _limited(
            request, "file_account", RATES["file_account"], _fixed(str(account.pk))
        ):
            return ratelimited(request)
        if form.is_valid():
            option = form.chosen_option
            try:
                appeal = services.file_appeal(
                    account=account,
                    action=option.action if option else None,
                    notice=option.notice if option else None,
                    followers_dropped_on=form.cleaned_data.get("followers_dropped_on")
                    if form.cleaned_data["choice"] == FOLLOWERS_CHOICE
                    else None,
                    writer_statement=form.cleaned_data["writer_statement"],
                    contact_email=form.cleaned_data["contact_email"],
                    files=form.cleaned_data["files"],
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(
                    request, _("We received your appeal. We emailed you this page's address; keep it to check back.")
                )
                return redirect("appeals:status", token=appeal.tracking_token)
    context = {
        "form": form,
        "account": account,
        "notice": notice,
        "has_open": any(o.has_open_appeal for o in options),
        "statements": selectors.decision_statements(options),
    }
    return _private(render(request, "writer/appeal_form.html", context))


@never_cache
@require_http_methods(["GET"])
def status(request, token: str):
    if _limited(request, "link_ip", RATES["link_ip"], "ip"):
        return ratelimited(request)
    appeal = selectors.appeal_by_token(token)
    if appeal is None:
        raise Http404("No appeal with this address.")
    activate_for(request, appeal.account)
    context = {"status": selectors.writer_status(appeal), "strikes": writer_standing(account_id=appeal.account_id)}
    return _private(render(request, "writer/status.html", context))
