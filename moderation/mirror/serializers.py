"""Validation of the platform mirror's items. Only shape here: what the database
state allows (taken handles, unknown accounts) is checked by the services in bulk."""

from __future__ import annotations

from rest_framework import serializers

from moderation.models import (
    AccountStatus,
    AIDisclosure,
    Distribution,
    EngagementKind,
    Language,
    PartnerStatus,
    StoryKind,
)

SEQUENCE_HELP = (
    "The platform's own ordering of updates to this object (a sequence number, or updated_at in "
    "microseconds): an item older than the one mirrored changes nothing."
)


def _sequence():
    return serializers.IntegerField(min_value=0, max_value=2**63 - 1, help_text=SEQUENCE_HELP)


class AccountFactsSerializer(serializers.Serializer):
    """An account as the platform holds it; fields left out stay as mirrored."""

    platform_id = serializers.CharField(max_length=64)
    sequence = _sequence()
    handle = serializers.RegexField(r"^[A-Za-z0-9_.-]+$", max_length=64, required=False, help_text="Needed to create.")
    display_name = serializers.CharField(max_length=128, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    status = serializers.ChoiceField(AccountStatus.choices, required=False)
    partner_status = serializers.ChoiceField(PartnerStatus.choices, required=False)
    partner_enrolled_at = serializers.DateTimeField(required=False, allow_null=True)
    partner_revoked_at = serializers.DateTimeField(required=False, allow_null=True)
    follower_count = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    story_count = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    reads_last_30_days = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    joined_at = serializers.DateTimeField(required=False, allow_null=True)
    language = serializers.ChoiceField(
        Language.choices,
        required=False,
        allow_blank=True,
        help_text="The writer's language for notices and writer pages; blank when unknown (their browser's, "
        "then English). A language we do not translate into is refused.",
    )


class StoryFactsSerializer(serializers.Serializer):
    """A story (or response) as the platform holds it; fields left out stay as mirrored."""

    platform_id = serializers.CharField(max_length=64)
    sequence = _sequence()
    author = serializers.CharField(max_length=64, required=False, help_text="Author's platform id; needed to create.")
    kind = serializers.ChoiceField(StoryKind.choices, required=False)
    title = serializers.CharField(max_length=300, required=False, allow_blank=True)
    url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=200_000)
    paywalled = serializers.BooleanField(source="is_paywalled", required=False)
    distribution = serializers.ChoiceField(Distribution.choices, required=False)
    ai_disclosure = serializers.ChoiceField(AIDisclosure.choices, required=False)
    removed = serializers.BooleanField(source="is_removed", required=False)
    published_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs):
        if attrs.get("kind") == StoryKind.RESPONSE and attrs.get("is_paywalled"):
            raise serializers.ValidationError({"paywalled": "Responses are never paywalled."})
        return attrs


class FollowEventSerializer(serializers.Serializer):
    follower = serializers.CharField(max_length=64, help_text="Platform id of the account that follows.")
    followee = serializers.CharField(max_length=64, help_text="Platform id of the account followed.")
    action = serializers.ChoiceField(["follow", "unfollow"])
    sequence = _sequence()
    occurred_at = serializers.DateTimeField()

    def validate(self, attrs):
        if attrs["follower"] == attrs["followee"]:
            raise serializers.ValidationError({"followee": "An account cannot follow itself."})
        return attrs


class EngagementEventSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=64, help_text="The platform's event id; a repeat is a duplicate.")
    kind = serializers.ChoiceField(EngagementKind.choices)
    actor = serializers.CharField(max_length=64, help_text="Platform id of the reader who clapped, read or responded.")
    story = serializers.CharField(max_length=64, required=False, help_text="Platform id of the story engaged with.")
    target = serializers.CharField(
        max_length=64, required=False, help_text="Platform id of the account engaged with (the story's author)."
    )
    count = serializers.IntegerField(min_value=1, max_value=50, default=1, help_text="Claps in the event.")
    occurred_at = serializers.DateTimeField()
    sequence = _sequence()

    def validate(self, attrs):
        if not attrs.get("story") and not attrs.get("target"):
            raise serializers.ValidationError({"story": "Name the story, the target account, or both."})
        if attrs["kind"] != EngagementKind.CLAP and attrs["count"] != 1:
            raise serializers.ValidationError({"count": "Only claps come in numbers."})
        return attrs


class MirrorItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request.")
    id = serializers.CharField(help_text="The item's platform id (follows: `follower>followee`).")
    status = serializers.CharField(
        help_text="`created`, `updated`, `unchanged` (this sequence was seen before, or nothing differed), "
        "`stale` (older than what is mirrored: ignored) or `duplicate` (engagement event seen before)."
    )


class MirrorResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    stale = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    results = MirrorItemResultSerializer(many=True)
