"""API v1: signals in (API-key clients), cases out (clients see the cases they
caused; staff with view rights see all). Thin: validation here, work in services."""

from __future__ import annotations

import json

from django.conf import settings
from django.db.models import Prefetch
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, permissions, renderers, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import permissions as policy
from cases.blinding import blind_reason, hide_blinded
from cases.filters import CaseFilter
from cases.models import ActionStatus, Case, EnforcementAction, Signal
from cases.selectors import cases_visible_to
from cases.selectors.cases import with_client_stats
from cases.services.intake import SignalIn, ingest_signals
from cases.signal_fast_path import fast_validate
from moderation import setwise
from moderation.apikeys import CLIENT_THROTTLES
from moderation.models import (
    Account,
    AIDisclosure,
    ApiClient,
    ApiScope,
    Distribution,
    Outcome,
    PartnerStatus,
    Policy,
    SignalSource,
    Story,
    StoryKind,
)
from moderation.validation import (
    FastJSONRenderer,
    SafeCharField,
    SafeEmailField,
    SafeRegexField,
    SafeURLField,
    is_clean_identifier,
    json_string_error,
)

READER_SOURCES = {SignalSource.READER_REPORT, SignalSource.SHOW_LESS}


# --- auth -------------------------------------------------------------------------


class CanSendSignals(permissions.BasePermission):
    """Only API clients (key auth, service role) with the `signals` scope post signals;
    staff sessions do not."""

    message = "Only API clients with the service role and the `signals` scope may send signals."

    def has_permission(self, request, view):
        client = request.auth
        return (
            isinstance(client, ApiClient)
            and client.has_scope(ApiScope.SIGNALS)
            and policy.can_send_signals(request.user)
        )


class CanReadCases(permissions.BasePermission):
    """Read-only: staff with cases.view_case, or a client (with the `signals` scope)
    for the cases it caused."""

    def has_permission(self, request, view):
        if isinstance(request.auth, ApiClient) and not request.auth.has_scope(ApiScope.SIGNALS):
            return False
        return request.method in permissions.SAFE_METHODS and policy.can_list_cases(request.user)

    def has_object_permission(self, request, view, obj):
        reason = blind_reason(request.user, obj.pk)
        if reason:
            raise exceptions.PermissionDenied(reason)
        return policy.can_view_case(request.user, obj)


THROTTLES = CLIENT_THROTTLES


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents the `Authorization: Api-Key <key>` header in the OpenAPI schema."""

    target_class = "moderation.apikeys.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; keys come from `manage.py create_api_client`.",
        }


# --- signals in -------------------------------------------------------------------


class DetectorSerializer(serializers.Serializer):
    name = SafeCharField(max_length=100)
    version = SafeCharField(max_length=50)


class AccountDataSerializer(serializers.Serializer):
    """Describes an account the back-office does not know yet, so the signal can create
    it (facts pending until the platform mirror confirms them). Never changes a known
    account: differing values are ignored and reported in the item's `warnings`."""

    handle = SafeRegexField(r"^[A-Za-z0-9_.-]+$", max_length=64, required=False)
    display_name = SafeCharField(max_length=128, required=False, allow_blank=True)
    email = SafeEmailField(max_length=254, required=False, allow_blank=True)
    partner_status = serializers.ChoiceField(PartnerStatus.choices, required=False)
    # The column is a PositiveIntegerField: 2**31 - 1 on every backend.
    follower_count = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)


class StoryDataSerializer(serializers.Serializer):
    """Describes a story the back-office does not know yet (facts pending until the
    platform confirms them). Never changes a known story, nor a case's snapshot."""

    kind = serializers.ChoiceField(StoryKind.choices, required=False)
    title = SafeCharField(max_length=300, required=False, allow_blank=True)
    url = SafeURLField(max_length=500, required=False, allow_blank=True)
    body = SafeCharField(multiline=True, required=False, allow_blank=True, trim_whitespace=False, max_length=200_000)
    paywalled = serializers.BooleanField(source="is_paywalled", required=False)
    distribution = serializers.ChoiceField(Distribution.choices, required=False)
    ai_disclosure = serializers.ChoiceField(AIDisclosure.choices, required=False)
    published_at = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        if attrs.get("kind") == StoryKind.RESPONSE and attrs.get("is_paywalled"):
            raise serializers.ValidationError({"paywalled": "Responses are never paywalled."})
        return attrs


class SignalSerializer(serializers.Serializer):
    idempotency_key = SafeCharField(max_length=128, help_text="Unique per client; a repeat stores nothing.")
    source = serializers.ChoiceField(SignalSource.choices)
    account = SafeCharField(max_length=64, help_text="Platform id of the account the signal is about.")
    story = SafeCharField(max_length=64, required=False, allow_null=True, help_text="Platform story id.")
    reporter = SafeCharField(
        max_length=64, required=False, allow_null=True, help_text="Platform id of the reader (reports, show less)."
    )
    reason = SafeCharField(
        multiline=True, required=False, allow_blank=True, default="", help_text="The reader's words."
    )
    account_data = AccountDataSerializer(required=False, allow_null=True)
    story_data = StoryDataSerializer(required=False, allow_null=True)
    policy = SafeCharField(max_length=64, required=False, allow_null=True, help_text="Catalogue code.")
    detector = DetectorSerializer(required=False, allow_null=True)
    score = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True)
    proposed_outcomes = serializers.ListField(
        child=serializers.ChoiceField(Outcome.choices), required=False, default=list, max_length=len(Outcome)
    )
    payload = serializers.JSONField(required=False, default=dict, help_text="JSON object; size capped.")
    observed_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_source(self, value):
        client = self.context["client"]
        if not client.may_send(value):
            raise serializers.ValidationError(f"This client may not send {value} signals.")
        return value

    def validate_reason(self, value):
        limit = settings.MODERATION["REASON_MAX_CHARS"]
        if len(value) > limit:
            raise serializers.ValidationError(f"Ensure this field has no more than {limit} characters.")
        return value

    def validate_policy(self, value):
        if value in (None, ""):
            return None
        found = self.context["policies"].get(value)
        if found is None:
            raise serializers.ValidationError(f'Unknown policy code "{value}".')
        return found

    def validate_payload(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Expected a JSON object.")
        bad = json_string_error(value)
        if bad:
            raise serializers.ValidationError(bad)
        size = len(json.dumps(value, separators=(",", ":")).encode())
        limit = settings.MODERATION["SIGNAL_PAYLOAD_MAX_BYTES"]
        if size > limit:
            raise serializers.ValidationError(f"Payload is {size} bytes; the limit is {limit}.")
        return value

    def validate(self, attrs):
        errors: dict[str, str | dict] = {}
        source = attrs["source"]
        if source in READER_SOURCES and not attrs.get("reporter"):
            errors["reporter"] = "Required for reader_report and show_less signals."
        if source == SignalSource.DETECTOR:
            if not attrs.get("policy"):
                errors["policy"] = "Required for detector signals."
            if not attrs.get("detector"):
                errors["detector"] = "Required for detector signals."
        else:
            if attrs.get("detector"):
                errors["detector"] = "Only detector signals name a detector."
            if attrs.get("score") is not None:
                errors["score"] = "Only detector signals carry a score."
            if attrs.get("proposed_outcomes"):
                errors["proposed_outcomes"] = "Only detectors propose outcomes."
        if source == SignalSource.STAFF and not attrs.get("policy"):
            errors["policy"] = "Required for staff signals."
        if attrs.get("policy") and attrs.get("proposed_outcomes") and "proposed_outcomes" not in errors:
            allowed = set(attrs["policy"].allowed_outcomes)
            refused = [o for o in attrs["proposed_outcomes"] if o not in allowed]
            if refused:
                errors["proposed_outcomes"] = (
                    f"Not allowed under {attrs['policy'].code}: {', '.join(refused)} "
                    f"(allowed: {', '.join(attrs['policy'].allowed_outcomes)})."
                )
        self._check_subject(attrs, errors)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _check_subject(self, attrs, errors):
        """The account and story must be known to the back-office or described."""
        known_accounts = self.context["accounts"]
        account_data = attrs.get("account_data") or {}
        if attrs["account"] not in known_accounts and not account_data.get("handle"):
            errors["account"] = "Unknown account; send account_data with a handle to create it."
        handle = account_data.get("handle")
        owner = self.context["handles"].get(handle) if handle else None
        if owner is not None and owner != attrs["account"]:
            errors["account_data"] = {"handle": ["Another account already uses this handle."]}
        story = attrs.get("story")
        if story:
            author = self.context["stories"].get(story)
            if author is None and not attrs.get("story_data"):
                errors["story"] = "Unknown story; send story_data to create it."
            elif author is not None and author != attrs["account"]:
                errors["story"] = "This story belongs to another account."
        elif attrs.get("story_data"):
            errors["story_data"] = "story_data needs a story id."


class SignalBatchSerializer(serializers.ListSerializer):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("child", SignalSerializer())
        kwargs.setdefault("allow_empty", False)
        kwargs.setdefault("max_length", settings.MODERATION["SIGNAL_BATCH_LIMIT"])
        super().__init__(*args, **kwargs)


class IngestResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request.")
    status = serializers.CharField(help_text="`stored`, or `duplicate` when the idempotency key was seen before.")
    id = serializers.IntegerField(help_text="Signal id.")
    case = serializers.IntegerField(allow_null=True, help_text="Case the signal joined or opened, if any.")
    warnings = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text='Per field the item tried to change on a known account or story, e.g. `{"account_data.email": '
        '"ignored: platform facts come only from the platform"}`. Only present when there is one.',
    )


class IngestResponseSerializer(serializers.Serializer):
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    results = IngestResultSerializer(many=True)


def _strings(items, key, inner=None) -> set[str]:
    """Lookup keys for validation: only well-formed identifiers reach a query; the
    serializer reports the others as field errors."""
    found = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        value = item.get(key)
        if inner is not None:
            value = value.get(inner) if isinstance(value, dict) else None
        if isinstance(value, bool) or not isinstance(value, str | int):
            continue
        if len(str(value)) <= 64 and is_clean_identifier(str(value)):
            found.add(str(value))
    return found


class SignalIngestView(APIView):
    """Accept one signal or a list of up to SIGNAL_BATCH_LIMIT.

    Validation is all-or-nothing: one malformed item rejects the batch (400, errors at
    the item's index). A valid batch is stored in chunks of whole accounts, one
    transaction each, and acknowledged once all are committed; repeats of an
    idempotency key are reported as duplicates.
    """

    permission_classes = [CanSendSignals]
    throttle_classes = THROTTLES
    serializer_class = SignalSerializer
    renderer_classes = [FastJSONRenderer, renderers.BrowsableAPIRenderer]  # a 1,000-result answer

    @extend_schema(
        operation_id="signals_create",
        summary="Send one signal or a batch",
        description=(
            "Body: one signal object or a list of up to 1,000. All-or-nothing validation; "
            "per-item results (stored or duplicate, signal id, case id)."
        ),
        request=SignalSerializer(many=True),
        responses={
            201: IngestResponseSerializer,
            200: OpenApiResponse(IngestResponseSerializer, description="Every item was a duplicate."),
            400: OpenApiResponse(description="Field errors, per item for a list."),
        },
    )
    def post(self, request):
        data = request.data
        many = isinstance(data, list)
        items = data if many else [data]
        context = self._context(request.auth, items)
        validated = fast_validate(data, child=SignalSerializer(context=context), many=many)
        if validated is None:
            if many:
                serializer = SignalBatchSerializer(data=data, context=context)
            else:
                serializer = SignalSerializer(data=data, context=context)
            serializer.is_valid(raise_exception=True)
            validated = serializer.validated_data if many else [serializer.validated_data]
        results = ingest_signals(client=request.auth, items=[_to_signal_in(v) for v in validated])
        stored = sum(r.status == "stored" for r in results)
        body = {
            "stored": stored,
            "duplicates": len(results) - stored,
            "results": [_result(i, r) for i, r in enumerate(results)],
        }
        return Response(body, status=status.HTTP_201_CREATED if stored else status.HTTP_200_OK)

    @staticmethod
    def _context(client, items) -> dict:
        """Everything validation looks up, loaded once per request, not per item."""
        limit = settings.MODERATION["SIGNAL_BATCH_LIMIT"]
        items = items[: limit + 1] if isinstance(items, list) else []
        account_ids = _strings(items, "account")
        handles = _strings(items, "account_data", "handle")
        story_ids = _strings(items, "story")
        return {
            "client": client,
            "policies": {p.code: p for p in Policy.objects.current()},
            "accounts": set(
                setwise.any_of(Account.objects.all(), "platform_id", account_ids).values_list("platform_id", flat=True)
            ),
            "handles": dict(
                setwise.any_of(Account.objects.all(), "handle", handles).values_list("handle", "platform_id")
            ),
            "stories": dict(
                setwise.any_of(Story.objects.all(), "platform_id", story_ids).values_list(
                    "platform_id", "author__platform_id"
                )
            ),
        }


def _result(index: int, result) -> dict:
    body = {"index": index, "status": result.status, "id": result.signal_id, "case": result.case_id}
    if result.warnings:
        body["warnings"] = result.warnings
    return body


def _to_signal_in(data: dict) -> SignalIn:
    detector = data.get("detector") or {}
    return SignalIn(
        idempotency_key=data["idempotency_key"],
        source=data["source"],
        account=data["account"],
        story=data.get("story") or None,
        reporter=data.get("reporter") or None,
        reason=data.get("reason", ""),
        account_data=dict(data["account_data"]) if data.get("account_data") else None,
        story_data=dict(data["story_data"]) if data.get("story_data") else None,
        policy=data.get("policy"),
        detector_name=detector.get("name", ""),
        detector_version=detector.get("version", ""),
        score=data.get("score"),
        payload=data.get("payload") or {},
        proposed_outcomes=list(data.get("proposed_outcomes") or []),
        observed_at=data.get("observed_at"),
    )


# --- cases out --------------------------------------------------------------------


class AccountRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["platform_id", "handle", "partner_status", "follower_count"]


class StoryRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Story
        fields = ["platform_id", "title", "url", "is_paywalled"]


class CaseSerializer(serializers.ModelSerializer):
    account = AccountRefSerializer(read_only=True)
    story = StoryRefSerializer(read_only=True, allow_null=True)
    policy = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    queue = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    assignee = serializers.SerializerMethodField()
    sla_breached = serializers.BooleanField(read_only=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "account",
            "story",
            "policy_family",
            "policy",
            "queue",
            "status",
            "priority",
            "automated_origin",
            "assignee",
            "opened_at",
            "sla_due_at",
            "sla_breached",
            "decided_at",
            "signal_count",
            "reporter_count",
            "max_detector_score",
        ]
        read_only_fields = fields

    def to_representation(self, case):
        """A client reads counts over its own signals only (see with_client_stats)."""
        data = super().to_representation(case)
        if hasattr(case, "own_signal_count"):
            data["signal_count"] = case.own_signal_count
            data["reporter_count"] = case.own_reporter_count
            data["max_detector_score"] = case.own_max_detector_score
        return data

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_assignee(self, case) -> str | None:
        """Reviewer names stay inside the back-office: clients get null."""
        user = self.context["request"].user
        if case.assignee_id is None or policy.api_client_of(user) is not None:
            return None
        return case.assignee.get_username()


class CaseSignalSerializer(serializers.ModelSerializer):
    policy = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Signal
        fields = [
            "id",
            "idempotency_key",
            "source",
            "policy",
            "detector_name",
            "detector_version",
            "score",
            "proposed_outcomes",
            "observed_at",
            "received_at",
            "set_aside",
        ]
        read_only_fields = fields


class ProposalSerializer(serializers.ModelSerializer):
    """An outcome a detector proposed; only a reviewer's decision can approve it."""

    outcome = serializers.CharField(read_only=True, help_text="Outcome code, as in proposed_outcomes.")

    class Meta:
        model = EnforcementAction
        fields = ["id", "outcome", "proposed_by_signal"]
        read_only_fields = fields


class CaseDetailSerializer(CaseSerializer):
    signals = CaseSignalSerializer(source="visible_signals", many=True, read_only=True)
    proposals = ProposalSerializer(many=True, read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "signals", "proposals"]
        read_only_fields = fields


@extend_schema(tags=["cases"])
class CaseViewSet(viewsets.ReadOnlyModelViewSet):
    """Cases, highest priority first. API clients see only the cases their signals
    joined, and only their own signals on them."""

    permission_classes = [CanReadCases]
    throttle_classes = THROTTLES
    filterset_class = CaseFilter
    ordering_fields = ["priority", "opened_at", "sla_due_at"]
    ordering = ["-priority", "opened_at"]

    def get_queryset(self):
        qs = cases_visible_to(self.request.user)
        if self.action == "list":
            qs = hide_blinded(qs, self.request.user)
        client = policy.api_client_of(self.request.user)
        if client is not None:
            qs = with_client_stats(qs, client)
        if self.action == "retrieve":
            signals = Signal.objects.select_related("policy").order_by("received_at", "id")
            proposals = EnforcementAction.objects.filter(status=ActionStatus.PROPOSED).order_by("id")
            if client is not None:
                signals = signals.filter(client=client)
                proposals = proposals.filter(proposed_by_signal__client=client)
            qs = qs.prefetch_related(
                Prefetch("signals", queryset=signals, to_attr="visible_signals"),
                Prefetch("actions", queryset=proposals, to_attr="proposals"),
            )
        return qs

    def get_serializer_class(self):
        return CaseDetailSerializer if self.action == "retrieve" else CaseSerializer
