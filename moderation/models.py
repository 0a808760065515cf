"""The platform as the back-office sees it, the policy catalogue and the audit log."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from rest_framework_api_key.models import AbstractAPIKey

from moderation.audit import AuditEventQuerySet, AuditLogIsAppendOnly
from moderation.lease_state import LeaseState, lease_state
from moderation.statement_templates import validate_statement_template


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESTRICTED = "restricted", "Restricted"
    SUSPENDED = "suspended", "Suspended"


class PartnerStatus(models.TextChoices):
    NOT_ENROLLED = "not_enrolled", "Not enrolled"
    ACTIVE = "active", "Partner Program member"
    REVOKED = "revoked", "Revoked"


class Language(models.TextChoices):
    """The languages writer-facing text is translated into (settings.LANGUAGES agrees)."""

    EN = "en", "English"
    ES = "es", "Español"
    JA = "ja", "日本語"


class Account(models.Model):
    """A platform account, keyed by the platform's own id."""

    platform_id = models.CharField(max_length=64, unique=True)
    handle = models.CharField(max_length=64, unique=True)
    display_name = models.CharField(max_length=128, blank=True)
    email = models.EmailField(blank=True)
    status = models.CharField(max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    partner_status = models.CharField(max_length=16, choices=PartnerStatus.choices, default=PartnerStatus.NOT_ENROLLED)
    partner_enrolled_at = models.DateTimeField(null=True, blank=True)
    partner_revoked_at = models.DateTimeField(null=True, blank=True)
    follower_count = models.PositiveIntegerField(default=0)
    story_count = models.PositiveIntegerField(default=0)
    reads_last_30_days = models.PositiveIntegerField(
        default=0, help_text="Stories this account read in the last 30 days (genuineness evidence)."
    )
    joined_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(
        max_length=8,
        choices=Language.choices,
        blank=True,
        default="",
        help_text="The writer's language as the platform reports it; blank: their browser's, then English.",
    )
    facts_pending = models.BooleanField(
        default=False,
        help_text="Created from a signal's account_data; the platform has not confirmed these facts yet.",
    )
    facts_version = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The platform's own sequence of the newest update mirrored; an older update never overwrites it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["handle"]
        indexes = [models.Index(fields=["email"]), models.Index(fields=["partner_status"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(partner_status="active") | Q(partner_enrolled_at__isnull=False),
                name="account_partner_has_enrolment_date",
            ),
            models.CheckConstraint(
                condition=Q(language__in=["", *Language.values]), name="account_language_translated"
            ),
        ]

    def __str__(self):
        return f"@{self.handle}"

    @property
    def is_partner(self) -> bool:
        return self.partner_status == PartnerStatus.ACTIVE


class StoryKind(models.TextChoices):
    STORY = "story", "Story"
    RESPONSE = "response", "Response"


class Distribution(models.TextChoices):
    GENERAL = "general", "General distribution"
    NO_BOOST = "no_boost", "General, never Boosted"
    NETWORK_ONLY = "network_only", "Network only"


class AIDisclosure(models.TextChoices):
    NONE = "none", "No disclosure"
    ASSISTED = "assisted", "AI-assisted, disclosed"
    GENERATED = "generated", "AI-generated, disclosed"


class Story(models.Model):
    platform_id = models.CharField(max_length=64, unique=True)
    author = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="stories")
    kind = models.CharField(max_length=16, choices=StoryKind.choices, default=StoryKind.STORY)
    in_response_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="responses"
    )
    title = models.CharField(max_length=300, blank=True)
    url = models.URLField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    is_paywalled = models.BooleanField(default=False)
    distribution = models.CharField(max_length=16, choices=Distribution.choices, default=Distribution.GENERAL)
    ai_disclosure = models.CharField(max_length=16, choices=AIDisclosure.choices, default=AIDisclosure.NONE)
    is_removed = models.BooleanField(default=False, help_text="Hidden on the platform; never deleted.")
    published_at = models.DateTimeField(null=True, blank=True)
    facts_pending = models.BooleanField(
        default=False,
        help_text="Created from a signal's story_data; the platform has not confirmed these facts yet.",
    )
    facts_version = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The platform's own sequence of the newest update mirrored; an older update never overwrites it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "stories"
        ordering = ["-published_at", "id"]
        indexes = [models.Index(fields=["author", "kind"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="story") | Q(is_paywalled=False),
                name="story_responses_are_never_paywalled",
            )
        ]

    def __str__(self):
        return self.title or f"{self.get_kind_display()} {self.platform_id}"


class Follow(models.Model):
    """A follow edge. Purges deactivate edges and remember which action did it, so
    an overturn restores exactly those edges."""

    follower = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="following_edges")
    followee = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="follower_edges")
    created_at = models.DateTimeField()
    is_active = models.BooleanField(default=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.CharField(
        max_length=64, blank=True, default="", help_text="Idempotency key of the action that removed it."
    )
    unfollowed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the follower unfollowed (platform mirror); a restoration never brings such an edge back.",
    )
    facts_version = models.BigIntegerField(
        null=True, blank=True, help_text="The platform's sequence of the newest follow/unfollow mirrored."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_unique_edge"),
            models.CheckConstraint(condition=~Q(follower=models.F("followee")), name="follow_not_self"),
            models.CheckConstraint(
                condition=Q(is_active=True, removed_at__isnull=True) | Q(is_active=False, removed_at__isnull=False),
                name="follow_removed_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["followee", "is_active"]),
            models.Index(fields=["removed_by"], condition=~Q(removed_by=""), name="follow_removed_by_idx"),
        ]

    def __str__(self):
        return f"{self.follower} → {self.followee}"


class EngagementKind(models.TextChoices):
    CLAP = "clap", "Clap"
    RESPONSE = "response", "Response"
    READ = "read", "Read"


class EngagementEvent(models.Model):
    """One clap, response or read on the platform, as the platform reported it. Never
    changed once stored: the evidence graph (who engages with whom) is built on it."""

    platform_id = models.CharField(max_length=64, unique=True, help_text="The platform's own event id.")
    kind = models.CharField(max_length=16, choices=EngagementKind.choices)
    actor = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="engagement_given")
    target = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="engagement_received", help_text="Whose work it engages."
    )
    story = models.ForeignKey(Story, null=True, blank=True, on_delete=models.PROTECT, related_name="engagement")
    count = models.PositiveIntegerField(default=1, help_text="Claps in this event (1 for reads and responses).")
    occurred_at = models.DateTimeField()
    sequence = models.BigIntegerField(help_text="The platform's sequence number of the event.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["target", "kind", "occurred_at"], name="engagement_target_kind_at"),
            models.Index(fields=["actor", "target"], name="engagement_actor_target"),
            models.Index(fields=["story", "kind"], name="engagement_story_kind"),
        ]
        constraints = [models.CheckConstraint(condition=Q(count__gte=1), name="engagement_count_positive")]

    def __str__(self):
        return f"{self.kind} {self.platform_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Engagement events are immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Engagement events are immutable.")


class EarningsHold(models.Model):
    """Earnings withheld for a dated period; explicit and releasable."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="earnings_holds")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    placed_by = models.CharField(max_length=64, help_text="Idempotency key of the action that placed it.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="hold_ends_after_start"),
            models.UniqueConstraint(fields=["placed_by"], name="hold_one_per_action"),
        ]

    def __str__(self):
        return f"Hold on {self.account} {self.starts_at:%Y-%m-%d}–{self.ends_at:%Y-%m-%d}"


class Severity(models.IntegerChoices):
    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"
    CRITICAL = 4, "Critical"


class Outcome(models.TextChoices):
    """What a decision can do on the platform (POLICY.md)."""

    DISTRIBUTION_NETWORK_ONLY = "distribution.network_only", "Network-only distribution"
    DISTRIBUTION_NO_BOOST = "distribution.no_boost", "Never Boosted"
    DISTRIBUTION_GENERAL = "distribution.general", "Restore general distribution"
    PAYWALL_REMOVE = "paywall.remove", "Remove from paywall"
    PARTNER_REVOKE = "partner.revoke", "Revoke Partner Program membership"
    PARTNER_EARNINGS_HOLD = "partner.earnings_hold", "Hold Partner Program earnings"
    STORY_REMOVE = "story.remove", "Remove story"
    ACCOUNT_RESTRICT = "account.restrict", "Restrict account"
    ACCOUNT_SUSPEND = "account.suspend", "Suspend account"
    FOLLOWERS_PURGE = "followers.purge", "Purge fake follows"
    WARNING = "warning", "Warning only"


SEVERE_OUTCOMES = frozenset({Outcome.ACCOUNT_SUSPEND, Outcome.PARTNER_REVOKE, Outcome.FOLLOWERS_PURGE})
STORY_OUTCOMES = frozenset(
    {
        Outcome.DISTRIBUTION_NETWORK_ONLY,
        Outcome.DISTRIBUTION_NO_BOOST,
        Outcome.DISTRIBUTION_GENERAL,
        Outcome.PAYWALL_REMOVE,
        Outcome.STORY_REMOVE,
    }
)
# Harshness order: a reviewer may go milder than the default, never harsher alone.
OUTCOME_RANK = {
    Outcome.WARNING: 0,
    Outcome.DISTRIBUTION_GENERAL: 0,
    Outcome.DISTRIBUTION_NO_BOOST: 1,
    Outcome.DISTRIBUTION_NETWORK_ONLY: 2,
    Outcome.PAYWALL_REMOVE: 3,
    Outcome.PARTNER_EARNINGS_HOLD: 3,
    Outcome.STORY_REMOVE: 4,
    Outcome.ACCOUNT_RESTRICT: 5,
    Outcome.PARTNER_REVOKE: 6,
    Outcome.FOLLOWERS_PURGE: 6,
    Outcome.ACCOUNT_SUSPEND: 7,
}


class OutcomeKind(models.Model):
    """The catalogue's outcomes as rows the database can read: the human-gate triggers
    look up severity here. Kept equal to `Outcome` and `SEVERE_OUTCOMES` after every
    migrate (moderation.gate.sync_gate_data)."""

    code = models.CharField(max_length=32, primary_key=True, choices=Outcome.choices)
    is_severe = models.BooleanField(help_text="A second person must approve any decision with this outcome.")

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class GateSetting(models.Model):
    """A number the human-gate triggers read (the four-eyes follower threshold), copied
    from settings.MODERATION after every migrate so the database and Python agree."""

    key = models.CharField(max_length=64, primary_key=True)
    value = models.BigIntegerField()

    class Meta:
        ordering = ["key"]

    def __str__(self):
        return f"{self.key} = {self.value}"


class PolicyQuerySet(models.QuerySet):
    def current(self):
        return self.filter(is_current=True)


class Policy(models.Model):
    """One version of one rule. New wording or outcomes make a new version; decisions
    keep pointing at the version they applied."""

    code = models.CharField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    family = models.CharField(max_length=32, db_index=True)
    title = models.CharField(max_length=200)
    description = models.TextField(help_text="Plain-language explanation shown to writers.")
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.MEDIUM)
    allowed_outcomes = models.JSONField(default=list)
    default_outcomes = models.JSONField(default=list)
    repeat_outcomes = models.JSONField(default=list, blank=True)
    statement_template = models.TextField(
        validators=[validate_statement_template],
        help_text="The facts paragraph of the statement of reasons, in this rule's words. Placeholders in braces "
        "are filled in with the case's facts: {handle}, {subject}, {story_title}, {story_link}, {signals}, "
        "{first_received}, {policy_title}, {policy_description}.",
    )
    source = models.CharField(max_length=300, blank=True, help_text="Where the rule comes from.")
    strike_days = models.PositiveIntegerField(
        default=180,
        help_text="How long a strike for breaking this rule counts against the account (0: no strike).",
    )
    escalation_window_days = models.PositiveIntegerField(
        default=365, help_text="Strikes of the same family issued within this many days count towards escalation."
    )
    escalation_ladder = models.JSONField(
        default=list,
        blank=True,
        help_text="Outcomes proposed on top of the defaults, one step per live strike in the family: "
        '[["warning"], ["account.restrict"], ["account.suspend"]]; the last step repeats.',
    )
    is_current = models.BooleanField(default=True)
    effective_from = models.DateTimeField(auto_now_add=True)

    objects = PolicyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "policies"
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="policy_code_version_unique"),
            models.UniqueConstraint(fields=["code"], condition=Q(is_current=True), name="policy_one_current_version"),
            models.CheckConstraint(
                condition=Q(escalation_window_days__gte=1), name="policy_escalation_window_positive"
            ),
        ]

    def __str__(self):
        return f"{self.code} v{self.version}"

    def clean(self):
        """The ladder is a list of steps, each a list of outcomes this rule allows."""
        from django.core.exceptions import ValidationError

        ladder = self.escalation_ladder
        if not isinstance(ladder, list) or not all(isinstance(step, list) and step for step in ladder):
            raise ValidationError({"escalation_ladder": "Write a list of steps, each a non-empty list of outcomes."})
        bad = sorted({o for step in ladder for o in step if o not in set(self.allowed_outcomes or [])})
        if bad:
            raise ValidationError({"escalation_ladder": f"Not allowed under this rule: {', '.join(map(str, bad))}."})


class PolicyTranslation(models.Model):
    """A policy version's writer-facing wording in another language: catalogue data,
    versioned with the rule (a new version carries over the translations of unchanged
    wording). English is the policy row itself."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="translations")
    language = models.CharField(max_length=8, choices=Language.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(help_text="Plain-language explanation shown to writers, in this language.")

    class Meta:
        ordering = ["policy", "language"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "language"], name="policy_translation_unique"),
            models.CheckConstraint(
                condition=Q(language__in=[c for c in Language.values if c != Language.EN]),
                name="policy_translation_not_english",
            ),
        ]

    def __str__(self):
        return f"{self.policy} [{self.language}]"


class AuditEvent(models.Model):
    """Append-only record of a state change, never updated once written: its place in the
    hash chain is an AuditChainEntry the sequencer adds later. See moderation.audit."""

    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, help_text="Who acted, kept even if the user goes.")
    verb = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=200, blank=True)
    case_ref = models.BigIntegerField(null=True, blank=True, db_index=True)
    appeal_ref = models.BigIntegerField(null=True, blank=True, db_index=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"]),
            # Every "Review next" reads the reviewer's skips of the last hour (the skip list,
            # cases.services.review.recently_skipped and cases.claim_statement): this
            # index holds skips only, so the read does not walk the reviewer's whole history.
            models.Index(fields=["actor", "occurred_at"], condition=Q(verb="case.skipped"), name="audit_skip_list_idx"),
        ]
        permissions = [("verify_audit_chain", "Can verify the audit chain")]

    def __str__(self):
        return f"#{self.pk} {self.verb} {self.target_type}:{self.target_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise AuditLogIsAppendOnly("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")


class AuditChainEntry(models.Model):
    """One event's place in the hash chain (moderation.audit_sequencer): a narrow row added
    once per event by one multi-row INSERT a batch, so integrating rewrites none of the
    audit table's indexes. Append-only like the events (database triggers)."""

    seq = models.BigIntegerField(primary_key=True, help_text="Position in the chain (1, 2, ...).")
    # No foreign-key constraint: its check would take a FOR KEY SHARE lock on every audit row
    # (a write to the audit heap per integrated event); events cannot be deleted anyway, and
    # an entry whose event is missing is a gap the verifier names.
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="chain_entry", db_constraint=False)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        constraints = [models.CheckConstraint(condition=Q(seq__gte=1), name="auditchainentry_seq_from_one")]

    def __str__(self):
        return f"#{self.seq} event {self.event_id}"

    def save(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Chain entries are written by the sequencer only.")

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Chain entries cannot be deleted.")


class AuditPending(models.Model):
    """Events committed but not chained yet: the sequencer's work queue. record_event adds
    the id in the statement that inserts the event; the sequencer removes it in the
    transaction that chains the event. No foreign key, so the writer pays no check."""

    event_id = models.BigIntegerField(primary_key=True)

    def __str__(self):
        return f"event {self.event_id} awaiting integration"


class AuditSequencer(models.Model):
    """One row: the sequencer's lock (writers never touch it) and when it last ran."""

    ran_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Audit sequencer (last ran {self.ran_at})"


class SignalSource(models.TextChoices):
    READER_REPORT = "reader_report", "Reader report"
    SHOW_LESS = "show_less", "Show less like this"
    DETECTOR = "detector", "Detector"
    STAFF = "staff", "Staff"


class ApiScope(models.TextChoices):
    """What an API client may do. Only the platform's own client states facts."""

    SIGNALS = "signals", "Send signals and read the cases they joined"
    PLATFORM = "platform", "Mirror the platform's facts (accounts, stories, follows, engagement)"


class ApiClient(models.Model):
    """A platform or detector client, acting as a user in the service role.

    Its keys are ApiClientKey rows (stored hashed by djangorestframework-api-key)."""

    name = models.CharField(max_length=100, unique=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_client")
    allowed_sources = models.JSONField(
        default=list, blank=True, help_text="Signal sources this client may send (needs the signals scope)."
    )
    scopes = models.JSONField(default=list, blank=True, help_text="ApiScope values granted to this client.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name

    def may_send(self, source: str) -> bool:
        return self.is_active and source in self.allowed_sources

    def has_scope(self, scope: str) -> bool:
        return self.is_active and scope in self.scopes


class ApiClientKey(AbstractAPIKey):
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="keys")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"


class OIDCIdentity(models.Model):
    """A staff account as the organisation's OpenID provider knows it. OIDC promises only
    the (issuer, subject) pair to be stable and never reassigned; an email can change or
    pass to someone else at the provider, so it is trusted once (verified, matching one
    staff account) to make this link, and every later sign-in goes by the link."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "OIDC identity"
        verbose_name_plural = "OIDC identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="oidcidentity_one_account_per_subject"),
            models.UniqueConstraint(fields=["user", "issuer"], name="oidcidentity_one_subject_per_account"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


JobState = LeaseState  # the states of leased work, shared with the enforcement outbox


class BackgroundJob(models.Model):
    """The transactional outbox of background work (moderation.outbox): written in the
    transaction of the change that needs the job, handed to RQ after commit, sent again
    by the periodic drain when the hand-over was lost (Redis down). A worker running it
    holds a lease (`lease_token` until `leased_until`, renewed by a heartbeat), so a
    slow job is never handed to a second worker; a failed run is retried with backoff,
    then gives up where a person sees it (admin list with Retry, supervisor dashboard)."""

    func = models.CharField(max_length=200, help_text="Dotted path of the job function.")
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=30, default="default")
    key = models.CharField(max_length=200, blank=True, help_text="At most one unfinished job per key.")
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Last handed to RQ.")
    next_attempt_at = models.DateTimeField(help_text="The drain hands it to RQ (again) from then on.")
    attempts = models.PositiveSmallIntegerField(default=0)
    leased_until = models.DateTimeField(null=True, blank=True, help_text="A worker is running it until then.")
    lease_token = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    gave_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=~Q(key="") & Q(done_at__isnull=True, gave_up_at__isnull=True),
                name="job_open_once_per_key",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(done_at__isnull=True, gave_up_at__isnull=True),
                name="job_open_due_idx",
            ),
            models.Index(fields=["gave_up_at"], condition=Q(gave_up_at__isnull=False), name="job_gave_up_idx"),
        ]

    def __str__(self):
        # No arguments: this is the admin's title and the audit row's label of a retry.
        return f"{self.func.rsplit('.', 1)[-1]} #{self.pk}"

    def state(self, now=None) -> str:
        return lease_state(self, now)


class WriterKey(models.Model):
    """A writer's own key for the personal data an audit row must mention (an email
    change): the row holds the value sealed under it (moderation.personal_data).
    Retention destroys the key, so the row and its hash stay as they were and the value
    becomes unreadable (crypto-shredding). A shredded key is kept, emptied, so rows
    sealed under it say "[erased]" rather than pointing nowhere; a later seal makes a
    new key."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="writer_keys")
    key = models.CharField(max_length=64, blank=True, help_text="Fernet key; empty once shredded.")
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField()
    shredded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(shredded_at__isnull=True), name="writerkey_one_live_per_account"
            ),
            models.CheckConstraint(
                condition=Q(shredded_at__isnull=True, key__gt="") | Q(shredded_at__isnull=False, key=""),
                name="writerkey_shredded_is_empty",
            ),
        ]

    def __str__(self):
        return f"Writer key #{self.pk}"
