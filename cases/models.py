"""Signals in, cases, evidence, queues, decisions and the enforcement actions they approve."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from moderation.lease_state import LeaseState, lease_state
from moderation.models import Account, Outcome, Policy, SignalSource, Story
from moderation.private_files import evidence_file_path, private_storage


class Queue(models.Model):
    """A named review queue. Routing rules (data, editable in the admin) send cases here."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    sla_hours = models.PositiveIntegerField(default=48)
    allowed_roles = models.JSONField(default=list, help_text="Role names that may work this queue.")
    is_escalation = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [models.CheckConstraint(condition=Q(sla_hours__gt=0), name="queue_sla_positive")]

    def __str__(self):
        return self.name

    @property
    def sla(self) -> timedelta:
        return timedelta(hours=self.sla_hours)


class RoutingRule(models.Model):
    """First matching rule (lowest position) picks the queue for a new case."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="routing_rules")
    position = models.PositiveSmallIntegerField(default=100)
    policy_family = models.CharField(max_length=32, blank=True, help_text="Blank matches any family.")
    policy_code = models.CharField(max_length=64, blank=True, help_text="Blank matches any code.")
    source = models.CharField(max_length=16, choices=SignalSource.choices, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        parts = [self.policy_code or self.policy_family or "any policy", self.source or "any source"]
        return f"{' / '.join(parts)} → {self.queue}"


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_REVIEW = "in_review", "In review"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting second approval"
    ESCALATED = "escalated", "Escalated"
    DECIDED = "decided", "Decided"
    DISMISSED = "dismissed", "Closed, no violation"


OPEN_CASE_STATUSES = (
    CaseStatus.OPEN,
    CaseStatus.IN_REVIEW,
    CaseStatus.AWAITING_APPROVAL,
    CaseStatus.ESCALATED,
)


class Case(models.Model):
    """The unit of review: always about an account, optionally one story."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="cases")
    story = models.ForeignKey(Story, null=True, blank=True, on_delete=models.PROTECT, related_name="cases")
    policy_family = models.CharField(max_length=32)
    policy = models.ForeignKey(
        Policy,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Suggested policy (from signals) until a decision names one.",
    )
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(max_length=20, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    priority = models.IntegerField(default=0, help_text="Higher is reviewed first. See cases.priority.")
    automated_origin = models.BooleanField(default=False, help_text="Opened by detectors alone, with no human report.")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="claimed_cases"
    )
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField()
    signal_count = models.PositiveIntegerField(default=0)
    reporter_count = models.PositiveIntegerField(default=0)
    max_detector_score = models.FloatField(null=True, blank=True)
    opened_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "opened_at"]
        permissions = [
            ("review_case", "Can claim and decide cases"),
            ("approve_severe", "Can approve severe outcomes (four eyes)"),
            ("assign_case", "Can assign cases to reviewers"),
            ("mute_reporter", "Can mute reporters filing in bad faith"),
            ("send_signals", "Can send signals through the API"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(assignee__isnull=True, claim_expires_at__isnull=True)
                | Q(assignee__isnull=False, claim_expires_at__isnull=False),
                name="case_claim_has_lease",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["decided", "dismissed"]) | Q(decided_at__isnull=False),
                name="case_closed_has_decided_at",
            ),
            # Open signals on one subject and policy family join one open case.
            models.UniqueConstraint(
                "account",
                models.functions.Coalesce("story", models.Value(0)),
                "policy_family",
                condition=Q(status__in=["open", "in_review", "awaiting_approval", "escalated"]),
                name="case_one_open_per_subject_family",
            ),
        ]
        indexes = [
            models.Index(fields=["queue", "status", "-priority", "opened_at"], name="case_queue_order_idx"),
            # "Review next" walks a queue's claimable cases in review order and stops at the
            # first it can lock: with the statuses as the index's condition, not a column
            # between queue and priority, the index supplies that order (no Sort of them all).
            models.Index(
                fields=["queue", "-priority", "opened_at", "id"],
                condition=Q(status__in=["open", "in_review", "escalated"]),
                name="case_claim_order_idx",
            ),
            # The case list's default order (admin ordering plus its "-pk" tie-break): the
            # first page comes from the index instead of sorting every case.
            models.Index(fields=["-priority", "opened_at", "-id"], name="case_list_order_idx"),
            models.Index(fields=["status", "sla_due_at"], name="case_sla_idx"),
            models.Index(fields=["assignee", "claim_expires_at"], name="case_claim_idx"),
            models.Index(fields=["account", "status"], name="case_account_idx"),
            # The supervisor dashboard counts the days its daily rollup does not hold (today,
            # days a late write made stale) live; its backlog and SLA figures per queue read
            # open cases, and closed ones by when they closed, from the index alone.
            models.Index(
                fields=["opened_at"],
                include=["queue", "policy", "policy_family", "automated_origin"],
                name="case_opened_idx",
            ),
            models.Index(
                fields=["queue", "sla_due_at"],
                condition=Q(status__in=["open", "in_review", "awaiting_approval", "escalated"]),
                name="case_open_backlog_idx",
            ),
            # The oldest open case of each queue, for the queues panel: one probe a queue.
            models.Index(
                fields=["queue", "opened_at"],
                condition=Q(status__in=["open", "in_review", "awaiting_approval", "escalated"]),
                name="case_open_age_idx",
            ),
            models.Index(
                fields=["decided_at"],
                include=["queue", "opened_at", "sla_due_at"],
                condition=Q(status__in=["decided", "dismissed"]),
                name="case_closed_idx",
            ),
            # The dashboard's times to decision per queue: each queue's closed cases of the
            # period in queue order, so its percentiles need no sort of them all by queue.
            models.Index(
                fields=["queue", "decided_at"],
                include=["opened_at", "sla_due_at"],
                condition=Q(status__in=["decided", "dismissed"]),
                name="case_closed_queue_idx",
            ),
        ]

    def __str__(self):
        return f"Case #{self.pk} · {self.account} · {self.policy_family}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_CASE_STATUSES


class Signal(models.Model):
    """One observation. Stored before it is acknowledged; never edited."""

    # Foreign keys without an index of their own where one of Meta's indexes leads with
    # the column (client: the idempotency key's; account: signal_subject_idx), or with a
    # partial one over the rows that have a value (most signals name no reader, no staff
    # member and half no story): every signal's INSERT pays for each index it carries.
    client = models.ForeignKey(
        "moderation.ApiClient",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="signals",
        db_index=False,
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Staff member, for staff signals.",
        db_index=False,
    )
    idempotency_key = models.CharField(max_length=128)
    source = models.CharField(max_length=16, choices=SignalSource.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="signals", db_index=False)
    story = models.ForeignKey(
        Story, null=True, blank=True, on_delete=models.PROTECT, related_name="signals", db_index=False
    )
    reporter = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="reports_filed", db_index=False
    )
    reason = models.TextField(blank=True)
    policy = models.ForeignKey(Policy, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    detector_name = models.CharField(max_length=100, blank=True)
    detector_version = models.CharField(max_length=50, blank=True)
    score = models.FloatField(null=True, blank=True)
    proposed_outcomes = models.JSONField(default=list, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    observed_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    # Indexed by signal_case_idx below (the case first), not by a plain index of its own.
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.PROTECT, related_name="signals", db_index=False
    )
    set_aside = models.BooleanField(default=False, help_text="Reporter muted; kept but not counted.")

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "idempotency_key"], name="signal_idempotent_per_client"),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=1), name="signal_score_0_1"
            ),
            models.CheckConstraint(
                condition=~Q(source="detector") | (~Q(detector_name="") & Q(policy__isnull=False)),
                name="signal_detector_named_with_policy",
            ),
            models.CheckConstraint(
                condition=~Q(source__in=["reader_report", "show_less"]) | Q(reporter__isnull=False),
                name="signal_reader_has_reporter",
            ),
        ]
        indexes = [
            models.Index(fields=["detector_name", "detector_version"], name="signal_detector_idx"),
            # Readers' signals only: detector and staff signals name no reporter.
            models.Index(
                fields=["reporter", "source"], condition=Q(reporter__isnull=False), name="signal_reporter_idx"
            ),
            models.Index(fields=["account", "story", "source"], name="signal_subject_idx"),
            # The supervisor dashboard's live tail: signals received since the last rolled-up day.
            models.Index(fields=["received_at"], include=["source"], name="signal_received_idx"),
            # A case's signals (in place of the foreign key's own index), with what the
            # dashboard counts per detector version and the rollup trigger's "first signal of
            # this version on the case" test read, so both stay in the index: the detector
            # count of 13,000 cases opened since the last rollup took 194 ms as a hash join
            # over every signal and 39 ms here, and 50,000 detector signals onto existing
            # cases insert in 2.0 s instead of 2.9 s (one index either way).
            models.Index(fields=["case", "source", "detector_name", "detector_version"], name="signal_case_idx"),
            models.Index(fields=["story"], condition=Q(story__isnull=False), name="signal_story_idx"),
            models.Index(
                fields=["submitted_by"], condition=Q(submitted_by__isnull=False), name="signal_submitted_by_idx"
            ),
        ]

    def __str__(self):
        return f"{self.get_source_display()} on {self.account}"


class ReporterStanding(models.Model):
    """How reliable a reader's reports have been, and whether a supervisor muted them."""

    reporter = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="reporter_standing")
    upheld_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    muted_at = models.DateTimeField(null=True, blank=True)
    muted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    mute_reason = models.TextField(blank=True)

    def __str__(self):
        return f"Standing of {self.reporter}"

    @property
    def reliability(self) -> float:
        """Laplace-smoothed share of upheld reports: 0.5 for an unknown reader."""
        return (self.upheld_count + 1) / (self.upheld_count + self.rejected_count + 2)


class EvidenceKind(models.TextChoices):
    SIGNAL = "signal", "Signal"
    SNAPSHOT = "snapshot", "Content snapshot"
    ENGAGEMENT_GRAPH = "engagement_graph", "Engagement graph"
    SIMILAR_CONTENT = "similar_content", "Similar content"
    GENUINENESS = "genuineness", "Genuineness profile"
    FILE = "file", "File"
    NOTE = "note", "Staff note"


class Evidence(models.Model):
    """Immutable item on a case's timeline."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="evidence")
    kind = models.CharField(max_length=20, choices=EvidenceKind.choices)
    signal = models.OneToOneField(Signal, null=True, blank=True, on_delete=models.PROTECT, related_name="evidence")
    title = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to=evidence_file_path, storage=private_storage, blank=True)
    # Indexed only where set (staff notes and files): intake writes a row per signal
    # without one.
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    purged_at = models.DateTimeField(
        null=True, blank=True, help_text="Body, data and file deleted under the retention policy; the hash stays."
    )

    class Meta:
        verbose_name_plural = "evidence"
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["added_by"], condition=Q(added_by__isnull=False), name="evidence_added_by_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="signal") | Q(signal__isnull=False), name="evidence_signal_kind_has_signal"
            ),
            models.CheckConstraint(
                condition=~Q(kind="snapshot") | ~Q(content_hash=""), name="evidence_snapshot_has_hash"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on case #{self.case_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Evidence is never edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Evidence is never deleted.")


class Decision(models.Model):
    """A reviewer's verdict. The public statement and the private rationale never share a field."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="decisions")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions")
    is_violation = models.BooleanField()
    policy = models.ForeignKey(Policy, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    outcomes = models.JSONField(default=list, blank=True)
    rationale = models.TextField(help_text="Internal. Never shown to the writer.")
    statement = models.TextField(blank=True, help_text="Statement of reasons the writer reads.")
    needs_approval = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="approvals"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejection_note = models.TextField(blank=True)
    is_bulk = models.BooleanField(default=False)
    decided_at = models.DateTimeField()
    handling_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-decided_at"]
        get_latest_by = "decided_at"
        constraints = [
            models.CheckConstraint(
                condition=Q(is_violation=False) | Q(policy__isnull=False), name="decision_violation_names_policy"
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("decided_by")),
                name="decision_four_eyes_distinct",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | Q(approved_at__isnull=False),
                name="decision_approval_has_time",
            ),
            # The target of the strikes' (decision, verdict) foreign key (cases.strikes).
            models.UniqueConstraint(fields=["id", "is_violation"], name="decision_id_verdict_key"),
        ]
        indexes = [
            models.Index(fields=["decided_by", "decided_at"]),
            # The supervision measures read decisions made in a period.
            models.Index(fields=["decided_at"], name="decision_decided_idx"),
        ]

    def __str__(self):
        return f"Decision on case #{self.case_id}"

    @property
    def is_approved(self) -> bool:
        return not self.needs_approval or self.approved_by_id is not None


class VerdictSource(models.TextChoices):
    """Who had the final word on whether a detector was right."""

    DECISION = "decision", "Reviewer at decision time"
    APPEAL = "appeal", "Appeal"
    QA = "qa", "QA settlement"
    RE_REVIEW = "re_review", "Later decision on the re-opened case"


class DetectorVerdict(models.Model):
    """The reviewer's mark on one detector signal: was the detector right?

    `was_correct` is the mark as made and never changes. `final_was_correct` starts
    equal to it and follows the final word (appeal, QA settlement, re-review) through
    cases.services.verdicts, each change audited. A later decision on the same case
    marks the signal again and supersedes this row: precision after the final word
    counts only rows not superseded, so a signal counts once."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="detector_verdicts")
    signal = models.ForeignKey(Signal, on_delete=models.PROTECT, related_name="verdicts")
    detector_name = models.CharField(max_length=100)
    detector_version = models.CharField(max_length=50)
    was_correct = models.BooleanField()
    final_was_correct = models.BooleanField(help_text="The detector was right, by the final word on the case.")
    final_source = models.CharField(max_length=16, choices=VerdictSource.choices, default=VerdictSource.DECISION)
    final_revised_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supersedes",
        help_text="The mark on the same signal by a later decision on the case.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["decision", "signal"], name="verdict_once_per_signal"),
            models.CheckConstraint(
                condition=(Q(final_source="decision") & Q(final_revised_at__isnull=True))
                | (~Q(final_source="decision") & Q(final_revised_at__isnull=False)),
                name="verdict_revision_has_time",
            ),
            models.CheckConstraint(
                condition=Q(final_source="decision", final_was_correct=models.F("was_correct"))
                | ~Q(final_source="decision"),
                name="verdict_unrevised_is_the_mark",
            ),
            models.CheckConstraint(
                condition=Q(superseded_by__isnull=True) | ~Q(superseded_by=models.F("id")),
                name="verdict_not_superseded_by_itself",
            ),
        ]
        indexes = [
            models.Index(fields=["detector_name", "detector_version"]),
            models.Index(
                fields=["detector_name", "detector_version"],
                condition=Q(superseded_by__isnull=True),
                name="verdict_current_idx",
            ),
        ]

    def __str__(self):
        return f"{self.detector_name} {self.detector_version}: {'right' if self.was_correct else 'wrong'}"

    def save(self, *args, **kwargs):
        if self._state.adding and self.final_was_correct is None:
            self.final_was_correct = self.was_correct
        super().save(*args, **kwargs)


class ActionStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting second approval"
    APPROVED = "approved", "Approved"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"
    REVERSED = "reversed", "Reversed"
    REJECTED = "rejected", "Not approved"


class ReversalCause(models.TextChoices):
    APPEAL = "appeal", "Overturned on appeal"
    RECALL = "recall", "Detector recall"
    CORRECTION = "correction", "Supervisor correction"
    SUPERSEDED = "superseded", "Reversed on re-review"


class EnforcementAction(models.Model):
    """One outcome on one account or story. Applied through the outbox by a job."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="actions")
    decision = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="actions")
    proposed_by_signal = models.ForeignKey(
        Signal, null=True, blank=True, on_delete=models.PROTECT, related_name="proposed_actions"
    )
    outcome = models.CharField(max_length=32, choices=Outcome.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="enforcement_actions")
    story = models.ForeignKey(
        Story, null=True, blank=True, on_delete=models.PROTECT, related_name="enforcement_actions"
    )
    status = models.CharField(max_length=20, choices=ActionStatus.choices, default=ActionStatus.PROPOSED)
    params = models.JSONField(default=dict, blank=True, help_text="e.g. hold period, accounts to purge.")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="When a temporary measure ends.")
    effect = models.JSONField(default=dict, blank=True, help_text="What applying changed, for exact reversal.")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversal_cause = models.CharField(max_length=16, choices=ReversalCause.choices, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # The human gate, held by the database: only a proposal may lack a decision.
            models.CheckConstraint(
                condition=Q(status__in=["proposed", "rejected"]) | Q(decision__isnull=False),
                name="action_needs_human_decision",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["applied", "reversed"]) | Q(applied_at__isnull=False),
                name="action_applied_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="reversed") | Q(reversed_at__isnull=False),
                name="action_reversed_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "outcome"]),
            models.Index(fields=["account", "status"]),
            # The supervision measures read actions applied in a period.
            models.Index(fields=["applied_at"], name="action_applied_idx"),
        ]

    def __str__(self):
        target = self.story or self.account
        return f"{self.get_outcome_display()} on {target}"

    @property
    def idempotency_key(self) -> str:
        return f"action-{self.pk}"


class OutboxOperation(models.TextChoices):
    APPLY = "apply", "Apply"
    REVERSE = "reverse", "Reverse"


OutboxState = LeaseState  # moderation.lease_state: the same five states as every other job


class OutboxEntry(models.Model):
    """Written with the action in one transaction; a job drains it, so a crash between
    commit and enqueue loses nothing. A worker running an entry holds a lease
    (`lease_token` until `leased_until`, renewed with each batch), so a slow run is never
    handed to a second worker; a failed run is retried at `next_attempt_at`."""

    action = models.ForeignKey(EnforcementAction, on_delete=models.PROTECT, related_name="outbox")
    operation = models.CharField(max_length=10, choices=OutboxOperation.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    gave_up_at = models.DateTimeField(null=True, blank=True)
    # Large purges and restorations run in batches; progress survives a crash.
    progress_total = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0, help_text="Last row id handled; a resumed run starts after it.")
    leased_until = models.DateTimeField(null=True, blank=True, help_text="A worker is running it until then.")
    lease_token = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name_plural = "outbox entries"
        constraints = [
            models.UniqueConstraint(fields=["action", "operation"], name="outbox_once_per_operation"),
            models.CheckConstraint(
                condition=Q(progress_done__lte=models.F("progress_total")) | Q(progress_total=0),
                name="outbox_progress_bounded",
            ),
        ]
        indexes = [models.Index(fields=["done_at", "next_attempt_at"], name="outbox_pending_idx")]

    def __str__(self):
        return f"{self.operation} action #{self.action_id}"

    def state(self, now=None) -> str:
        return lease_state(self, now)


class Notice(models.Model):
    """A message sent about a case: the statement of reasons to the writer, or the
    outcome to a reader who reported."""

    class Recipient(models.TextChoices):
        WRITER = "writer", "Writer"
        REPORTER = "reporter", "Reporter"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="notices")
    decision = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="notices")
    recipient_kind = models.CharField(max_length=10, choices=Recipient.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="notices")
    email = models.EmailField(blank=True)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    automated_detection = models.BooleanField(default=False)
    appeal_deadline = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(help_text="When the notice was issued (the appeal window counts from it).")
    # Delivery, written by the email job (cases.notices.deliver_notice): an attempt is
    # recorded before the backend is called, `emailed_at` only once it accepted the mail.
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_attempted_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True, help_text="When the email backend accepted the email.")
    key = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="Names what the notice is about (a recall and an account, say) when it must go out once.",
    )

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=~Q(key=""), name="notice_once_per_key"),
        ]

    def __str__(self):
        return f"{self.subject} → {self.account}"


class StorySignature(models.Model):
    """MinHash signature of a story's text (cases/evidence/similarity.py), kept up to date
    as stories arrive so near-duplicate lookups never rescan the platform copy. Derived
    data: rebuilt from the story, so neither audited nor evidence."""

    story = models.OneToOneField("moderation.Story", primary_key=True, on_delete=models.CASCADE, related_name="+")
    signature = models.BinaryField(help_text="num_perm little-endian uint32 MinHash values.")
    text_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the text signed; unchanged text is not re-signed."
    )
    shingles = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"MinHash of story #{self.story_id}"


class StoryBand(models.Model):
    """One LSH band of a story's signature: stories sharing a key are candidates."""

    story = models.ForeignKey("moderation.Story", on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.BigIntegerField(help_text="Hash of (band number, the band's MinHash values).")

    class Meta:
        indexes = [
            models.Index(fields=["key", "story"], name="storyband_key_story"),
            models.Index(fields=["story"], name="storyband_story"),
        ]

    def __str__(self):
        return f"LSH band {self.key} of story #{self.story_id}"


class PurgeNoticeItem(models.Model):
    """The follows one purge removed from one writer, and the notice that told them.
    Unique per purge and writer, so nobody hears about the same purge twice."""

    notice = models.ForeignKey(Notice, on_delete=models.PROTECT, related_name="purge_items")
    action = models.ForeignKey(EnforcementAction, on_delete=models.PROTECT, related_name="purge_notice_items")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    edges = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["action", "account"], name="purge_notice_once_per_writer"),
        ]

    def __str__(self):
        return f"{self.edges} follows of {self.account} removed by action #{self.action_id}"


class CannedRationale(models.Model):
    """A ready-made internal rationale for one policy, inserted by key on the review
    page. Catalogue data: supervisors edit it in the admin, every save audited
    (cases.services.canned); switched off, never deleted."""

    policy_code = models.CharField(max_length=64, db_index=True, help_text="The policy's code, e.g. spam.duplicate.")
    title = models.CharField(max_length=100)
    text = models.TextField()
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["policy_code", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["policy_code", "title"], name="canned_rationale_title_once_per_policy"),
            models.CheckConstraint(condition=~Q(title="") & ~Q(text=""), name="canned_rationale_has_title_and_text"),
        ]

    def __str__(self):
        return f"{self.policy_code}: {self.title}"


class LegalHold(models.Model):
    """A supervisor's hold on a case: while it stands, retention deletes nothing of the
    case, its evidence, its notices or the appeals against its actions. Lifted, never
    deleted, so the record of who held what and why stays."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="legal_holds")
    reason = models.TextField(help_text="Why the case must be kept (a court order, an inquiry...).")
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField()
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-placed_at"]
        permissions = [("place_legal_hold", "Can place and lift legal holds on cases")]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(lifted_at__isnull=True), name="legal_hold_one_active_per_case"
            ),
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True, lifted_by__isnull=True)
                | Q(lifted_at__isnull=False, lifted_by__isnull=False),
                name="legal_hold_lift_has_lifter",
            ),
        ]

    def __str__(self):
        return f"Legal hold on case #{self.case_id}"

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


from cases.strikes import Strike, StrikeProposal  # noqa: E402, F401  (models of cases/strikes.py)
