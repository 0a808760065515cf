"""Supervision: QA sampling, golden cases, detector recalls, audit chain checks and report permissions."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from cases.models import Case, Decision, Queue
from moderation.models import Policy


class SupervisionReports(models.Model):
    """Holds the permissions for supervisor pages; no rows."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_reports", "Can view supervision dashboards and reports"),
            ("settle_qa", "Can settle QA disagreements"),
            ("recall_detector", "Can recall a faulty detector version"),
        ]

    def __str__(self):
        return "Supervision reports"


class QASamplingRule(models.Model):
    """Share of final decisions (per queue and/or policy) drawn into the QA queue.

    A decision matching several active rules is drawn with the highest matching share."""

    queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    policy_code = models.CharField(max_length=64, blank=True, help_text="Blank matches any policy.")
    share_percent = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(100)], help_text="0–100 % of matching decisions."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["queue__name", "policy_code"]
        verbose_name = "QA sampling rule"
        constraints = [
            models.CheckConstraint(condition=Q(share_percent__lte=100), name="qa_rule_share_0_100"),
            models.UniqueConstraint(
                models.functions.Coalesce("queue", models.Value(0)),
                "policy_code",
                condition=Q(is_active=True),
                name="qa_rule_one_active_per_scope",
            ),
        ]

    def __str__(self):
        scope = " / ".join(filter(None, [str(self.queue) if self.queue_id else "", self.policy_code])) or "all"
        return f"{self.share_percent}% of {scope}"


class GoldenCase(models.Model):
    """A case with a known right answer, mixed into the QA queue to measure QA reviewers."""

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="golden")
    expected_is_violation = models.BooleanField()
    expected_policy = models.ForeignKey(Policy, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    expected_outcomes = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True, help_text="Internal: why this is the right answer.")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expected_is_violation=False) | Q(expected_policy__isnull=False),
                name="golden_violation_names_policy",
            )
        ]

    def __str__(self):
        return f"Golden case #{self.case_id}"


class QAKind(models.TextChoices):
    SAMPLED = "sampled", "Sampled decision"
    GOLDEN = "golden", "Golden case"


class QAStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a second reviewer"
    AGREED = "agreed", "Agreed"
    DISAGREED = "disagreed", "Disagreement, waiting for a supervisor"
    SETTLED = "settled", "Settled by a supervisor"


class Settlement(models.TextChoices):
    FIRST_RIGHT = "first_right", "First decision stands"
    SECOND_RIGHT = "second_right", "QA reviewer was right"
    NEITHER = "neither", "Neither was right"


class QASample(models.Model):
    """One blind second review. The QA reviewer never sees `decision`; the supervisor does."""

    kind = models.CharField(max_length=10, choices=QAKind.choices)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="qa_samples")
    decision = models.OneToOneField(Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="qa_sample")
    golden = models.ForeignKey(GoldenCase, null=True, blank=True, on_delete=models.PROTECT, related_name="samples")
    original_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who decided first; may never be the QA reviewer.",
    )
    status = models.CharField(max_length=10, choices=QAStatus.choices, default=QAStatus.PENDING)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    qa_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="qa_reviews"
    )
    qa_is_violation = models.BooleanField(null=True, blank=True)
    qa_policy = models.ForeignKey(Policy, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    qa_outcomes = models.JSONField(default=list, blank=True)
    qa_note = models.TextField(blank=True, help_text="Internal.")
    qa_decided_at = models.DateTimeField(null=True, blank=True)
    agrees = models.BooleanField(null=True, blank=True)
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settlement = models.CharField(max_length=16, choices=Settlement.choices, blank=True)
    settlement_note = models.TextField(blank=True, help_text="Internal.")
    settled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "QA sample"
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="sampled") & Q(decision__isnull=False) & Q(golden__isnull=True))
                | (Q(kind="golden") & Q(golden__isnull=False) & Q(decision__isnull=True)),
                name="qa_sample_kind_matches_source",
            ),
            models.CheckConstraint(
                condition=Q(qa_reviewer__isnull=True)
                | Q(original_reviewer__isnull=True)
                | ~Q(qa_reviewer=F("original_reviewer")),
                name="qa_second_reviewer_differs",
            ),
            models.CheckConstraint(
                condition=Q(assignee__isnull=True, claim_expires_at__isnull=True)
                | Q(assignee__isnull=False, claim_expires_at__isnull=False),
                name="qa_claim_has_lease",
            ),
            models.CheckConstraint(
                condition=Q(status="pending")
                | (Q(qa_reviewer__isnull=False) & Q(qa_decided_at__isnull=False) & Q(agrees__isnull=False)),
                name="qa_reviewed_has_reviewer",
            ),
            models.CheckConstraint(
                condition=~Q(status="settled") | (Q(settled_by__isnull=False) & ~Q(settlement="")),
                name="qa_settled_has_settler",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="qa_queue_idx"),
            models.Index(fields=["original_reviewer", "status"], name="qa_reviewer_idx"),
            models.Index(fields=["assignee", "claim_expires_at"], name="qa_claim_idx"),
        ]

    def __str__(self):
        return f"QA #{self.pk} on case #{self.case_id}"


class RecallMode(models.TextChoices):
    REQUEUE = "requeue", "Re-queue the cases for fresh human review"
    REVERSE = "reverse", "Reverse the applied actions (with notices to writers)"


class RecallStatus(models.TextChoices):
    DRAFT = "draft", "Draft plan"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class RecallSelection(models.TextChoices):
    ALL = "all", "Everything the version touched"
    DISPUTED = "disputed", "Only what was overturned on appeal, judged genuine or wrong on re-review, or disputed in QA"
    NONE = "none", "Nothing yet: I pick by hand"


class DetectorRecall(models.Model):
    """A supervisor's recall of one detector version. It starts as a draft plan (the
    supervisor's selection, kept here across the dry run's pages); confirming freezes the
    targets, so the real run touches exactly what the plan listed."""

    detector_name = models.CharField(max_length=100)
    detector_version = models.CharField(max_length=50)
    mode = models.CharField(max_length=10, choices=RecallMode.choices)
    reason = models.TextField(help_text="Internal: why this version is recalled.")
    writer_statement = models.TextField(blank=True, help_text="What writers read in the reversal notice.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=RecallStatus.choices, default=RecallStatus.QUEUED)
    case_ids = models.JSONField(default=list, blank=True, help_text="Cases to re-queue (requeue mode).")
    action_ids = models.JSONField(default=list, blank=True, help_text="Applied actions to reverse (reverse mode).")
    selection = models.CharField(max_length=10, choices=RecallSelection.choices, default=RecallSelection.ALL)
    picked_ids = models.JSONField(
        default=list, blank=True, help_text="Draft: the actions (reverse) or cases (re-queue) the supervisor picked."
    )
    last_progress_at = models.DateTimeField(null=True, blank=True, help_text="Last finished batch; stalls show here.")
    progress_total = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=list, blank=True, help_text="Targets left alone, with why.")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(progress_done__lte=F("progress_total")), name="recall_progress_bounded"),
            models.CheckConstraint(condition=Q(status="draft") | ~Q(reason=""), name="recall_has_reason"),
            models.CheckConstraint(
                condition=Q(status="draft") | ~Q(mode="reverse") | ~Q(writer_statement=""),
                name="recall_reverse_has_statement",
            ),
            models.UniqueConstraint(
                fields=["requested_by", "detector_name", "detector_version"],
                condition=Q(status="draft"),
                name="recall_one_draft_per_supervisor",
            ),
        ]
        indexes = [models.Index(fields=["detector_name", "detector_version"], name="recall_detector_idx")]

    def __str__(self):
        return f"Recall of {self.detector_name} {self.detector_version}"

    @property
    def percent_done(self) -> int:
        if not self.progress_total:
            return 100 if self.status == RecallStatus.DONE else 0
        return round(100 * self.progress_done / self.progress_total)


class AuditChainCheck(models.Model):
    """One run of the audit chain check from the back-office, kept so supervisors see the history."""

    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField()
    events_checked = models.PositiveIntegerField()
    broken_at = models.BigIntegerField(null=True, blank=True, help_text="First event whose link does not hold.")
    problem = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-checked_at"]

    def __str__(self):
        if self.intact:
            return "Audit chain intact"
        return f"Audit chain broken at #{self.broken_at}" if self.broken_at else "Audit log tampered with"

    @property
    def intact(self) -> bool:
        return not self.problem


class RetentionKind(models.TextChoices):
    EVIDENCE = "evidence", "Evidence (bodies, data and files)"
    SNAPSHOT = "snapshot", "Content snapshots"
    APPEAL_FILE = "appeal_file", "Appeal files"
    PERSONAL_DATA = "personal_data", "Writers' personal data"
    FINISHED_WORK = "finished_work", "Finished background work (jobs, outbox entries)"


class RetentionRule(models.Model):
    """How long one kind of data is kept: the appeal window (MODERATION["APPEAL_WINDOW_DAYS"],
    DSA Art. 20's six months) plus `keep_days_after_last_activity` after the last decision
    or appeal on it; then the retention job (supervision.retention) deletes it. Data, so
    supervisors change it in the admin and every change is audited."""

    kind = models.CharField(max_length=16, choices=RetentionKind.choices, unique=True)
    keep_days_after_last_activity = models.PositiveIntegerField(
        validators=[MaxValueValidator(3650)],
        help_text=(
            "Days kept after the appeal window closes, counted from the last decision or appeal "
            "(finished background work: days after it finished; no appeal window)."
        ),
    )
    is_active = models.BooleanField(default=True, help_text="Inactive: nothing of this kind is deleted.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]
        constraints = [
            models.CheckConstraint(
                condition=Q(keep_days_after_last_activity__lte=3650), name="retention_rule_keep_at_most_ten_years"
            ),
        ]

    def __str__(self):
        return f"Retention: {self.get_kind_display()}"


# --- daily rollup of the dashboard's counts (supervision.rollup) ---------------------------


class RolledUpDay(models.Model):
    """A day whose counts the rollup tables hold, from its midnight up to `through` (the
    next midnight once the day is over; today, ROLLUP_LAG before the last run). A day
    without a row, the rest of a day after `through`, and a day with a stale mark are
    counted live."""

    day = models.DateField(unique=True)
    through = models.DateTimeField()
    rolled_at = models.DateTimeField()

    class Meta:
        ordering = ["day"]

    def __str__(self):
        return f"{self.day} (rolled up {self.rolled_at:%Y-%m-%d %H:%M})"


class RollupKind(models.TextChoices):
    """The rollup's tables: a late write marks only the kind whose counts it changes."""

    CASES = "cases", "Cases opened"
    DETECTORS = "detectors", "Cases per detector version"
    SIGNALS = "signals", "Signals received"
    ACTIONS = "actions", "Actions applied"


class RollupStaleMark(models.Model):
    """A day some later write changed after it may have been rolled up. Written only by
    PostgreSQL triggers on cases, signals and actions (migrations 0007, 0008), append-only so a write never
    waits on another; the rollup recomputes the day and deletes the marks it read."""

    day = models.DateField()
    kind = models.CharField(max_length=16, choices=RollupKind.choices)
    marked_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        indexes = [models.Index(fields=["day"], name="rollup_stale_day_idx")]

    def __str__(self):
        return f"{self.day} {self.kind} stale"


class CaseDailyCounts(models.Model):
    """Cases opened on a day, by where they sit now: queue, policy, detectors alone or not."""

    day = models.DateField()
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(Policy, null=True, on_delete=models.CASCADE, related_name="+")
    policy_family = models.CharField(max_length=32)
    automated_origin = models.BooleanField()
    cases = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "queue", "policy", "policy_family", "automated_origin"],
                nulls_distinct=False,
                name="case_daily_counts_key",
            )
        ]

    def __str__(self):
        return f"{self.day} {self.queue_id}/{self.policy_family}: {self.cases}"


class DetectorDailyCounts(models.Model):
    """Cases opened on a day that a detector name and version contributed a signal to."""

    day = models.DateField()
    detector_name = models.CharField(max_length=100)
    detector_version = models.CharField(max_length=50)
    cases = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "detector_name", "detector_version"], name="detector_daily_counts_key"
            )
        ]

    def __str__(self):
        return f"{self.day} {self.detector_name} {self.detector_version}: {self.cases}"


class ActionDailyCounts(models.Model):
    """Actions applied on a day, split by whether detectors alone were behind them (the
    case opened by detectors alone, or the action proposed by a detector's signal)."""

    day = models.DateField()
    automated = models.BooleanField()
    actions = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "automated"], name="action_daily_counts_key")]

    def __str__(self):
        return f"{self.day} {'automated' if self.automated else 'manual'}: {self.actions}"


class DetectorActionDailyCounts(models.Model):
    """Actions applied on a day on cases a detector name and version contributed a signal
    to, and how many of them an appeal overturned since."""

    day = models.DateField()
    detector_name = models.CharField(max_length=100)
    detector_version = models.CharField(max_length=50)
    applied = models.PositiveIntegerField()
    overturned = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "detector_name", "detector_version"], name="detector_action_daily_counts_key"
            )
        ]

    def __str__(self):
        return f"{self.day} {self.detector_name} {self.detector_version}: {self.applied} applied"


class SignalDailyCounts(models.Model):
    """Signals received on a day, by source."""

    day = models.DateField()
    source = models.CharField(max_length=16)
    signals = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "source"], name="signal_daily_counts_key")]

    def __str__(self):
        return f"{self.day} {self.source}: {self.signals}"
