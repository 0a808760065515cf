"""The platform mirror API (/api/v1/platform/…): for the platform's own client only
(ApiScope.PLATFORM). Thin: shape validation here, the work in services."""

from __future__ import annotations

from collections import Counter

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from moderation.apikeys import CLIENT_THROTTLES, HasApiScope
from moderation.mirror import serializers, services
from moderation.models import ApiScope

STATUSES = ("created", "updated", "unchanged", "stale", "duplicate")


class _MirrorView(APIView):
    """One object or a list of up to MIRROR_BATCH_LIMIT; all-or-nothing validation
    (400 with errors by the bad items' indexes), then one transaction."""

    permission_classes = [HasApiScope]
    throttle_classes = CLIENT_THROTTLES
    required_scope = ApiScope.PLATFORM
    serializer_class: type
    service = None

    def post(self, request):
        items = request.data if isinstance(request.data, list) else [request.data]
        serializer = self.serializer_class(
            data=items, many=True, allow_empty=False, max_length=services.MIRROR_BATCH_LIMIT
        )
        serializer.is_valid(raise_exception=True)
        validated = [dict(item) for item in serializer.validated_data]
        try:
            results = type(self).service(client=request.auth, items=validated)
        except services.MirrorInvalid as exc:
            # Same shape as DRF's list errors: {item index: {field: [messages]}}.
            errors = {str(i): problems for i, problems in sorted(exc.errors.items())}
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        counts = Counter(r.status for r in results)
        body = {
            **{name: counts.get(name, 0) for name in STATUSES},
            "results": [{"index": i, "id": r.key, "status": r.status} for i, r in enumerate(results)],
        }
        wrote = counts.get("created", 0) + counts.get("updated", 0)
        return Response(body, status=status.HTTP_201_CREATED if wrote else status.HTTP_200_OK)


def _documented(*, summary: str, description: str):
    """Documents a mirror view's POST from its own serializer (one place for the shared
    answers), so the subclasses need no `post` of their own."""

    def decorate(view: type[_MirrorView]) -> type[_MirrorView]:
        return extend_schema_view(
            post=_schema(summary=summary, description=description, serializer=view.serializer_class)
        )(view)

    return decorate


def _schema(*, summary: str, description: str, serializer):
    return extend_schema(
        tags=["platform mirror"],
        summary=summary,
        description=description + " Only for API clients with the `platform` scope; others get 403.",
        request=serializer(many=True),
        responses={
            201: serializers.MirrorResponseSerializer,
            200: OpenApiResponse(serializers.MirrorResponseSerializer, description="Nothing new: all seen before."),
            400: OpenApiResponse(description='Field errors by item index: `{"3": {"email": [...]}}`.'),
            403: OpenApiResponse(description="The client lacks the `platform` scope."),
        },
    )


@_documented(
    summary="Mirror accounts",
    description="Creates or updates accounts, ordered per account by `sequence`. Changes of email, status, "
    "Partner Program status and dates and follower count are audited with before and after; "
    "facts a signal left pending are confirmed.",
)
class AccountsMirrorView(_MirrorView):
    serializer_class = serializers.AccountFactsSerializer
    service = services.mirror_accounts


@_documented(
    summary="Mirror stories",
    description="Creates or updates stories and responses, ordered per story by `sequence`. Changes of "
    "paywall, distribution and removal are audited with before and after.",
)
class StoriesMirrorView(_MirrorView):
    serializer_class = serializers.StoryFactsSerializer
    service = services.mirror_stories


@_documented(
    summary="Mirror follows and unfollows",
    description="Follow edges, ordered per edge by `sequence`. An unfollow of an edge a purge removed is "
    "remembered: reversing the purge never brings it back.",
)
class FollowsMirrorView(_MirrorView):
    serializer_class = serializers.FollowEventSerializer
    service = services.mirror_follows


@_documented(
    summary="Record claps, responses and reads",
    description="Immutable engagement events; an event id seen before is a duplicate.",
)
class EngagementMirrorView(_MirrorView):
    serializer_class = serializers.EngagementEventSerializer
    service = services.record_engagement
