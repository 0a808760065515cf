"""The case page's "build evidence again" buttons."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from cases.evidence.services import BUILDERS, can_request_evidence
from cases.evidence.services import request_evidence as request_build
from cases.models import Case


@require_POST
def request_evidence(request, pk: int):
    if not can_request_evidence(request.user):
        raise PermissionDenied
    case = get_object_or_404(Case.objects.select_related("story"), pk=pk)
    builder = request.POST.get("builder", "")
    if builder not in BUILDERS or (builder == "similar" and not case.story_id):
        return HttpResponseBadRequest("Unknown evidence builder.")
    request_build(user=request.user, case=case, builder=builder)
    messages.success(request, "Evidence requested; it appears on the timeline once built.")
    return redirect("review:case", pk=case.pk)
