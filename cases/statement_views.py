"""The reviewer's "Preview statement": the notice exactly as the writer would read it for
the outcome, rule and text chosen on the decision form, before submitting. Answers an
HTML fragment to the page's script, or a page of its own (opened in a new tab) without
script. Changes nothing."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from cases import statements
from cases.forms import StatementPreviewForm
from cases.models import Case
from moderation.platform import DEFAULT_HOLD_DAYS

FRAGMENT_HEADER = "statement-preview"


@require_http_methods(["GET", "POST"])
def statement_preview(request, pk: int):
    case = Case.objects.select_related("account", "story", "queue", "policy").filter(pk=pk).first()
    if case is None:
        raise Http404("No such case.")
    form = StatementPreviewForm(request.POST if request.method == "POST" else None)
    preview, dismissed, status = None, False, 200
    if not form.is_bound:
        policy, outcomes, text, hold_days = (
            case.policy,
            list(case.policy.default_outcomes) if case.policy else [],
            None,
            0,
        )
    elif form.is_valid():
        data = form.cleaned_data
        dismissed = data["is_violation"] == "no"
        policy, outcomes, text, hold_days = data["policy"], data["outcomes"], data["statement"], data["hold_days"]
    else:
        policy, status = None, 400
    if policy is not None and not dismissed:
        if not (text or "").strip() and not form.is_bound:
            text = statements.render_facts(policy.statement_template, case, policy)
        preview = statements.preview(
            case=case, policy=policy, outcomes=outcomes, facts_text=text or "", hold_days=hold_days or DEFAULT_HOLD_DAYS
        )
    context = {"case": case, "form": form, "preview": preview, "dismissed": dismissed}
    if request.headers.get("X-Requested-With") == FRAGMENT_HEADER:
        return render(request, "admin/cases/review/_statement_letter.html", context, status=status)
    from django.contrib import admin

    context.update(admin.site.each_context(request), title=f"Statement preview · case #{case.pk}")
    return render(request, "admin/cases/review/statement_preview.html", context, status=status)
