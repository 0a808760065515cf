"""Writers' appeals against enforcement actions (or lost followers) and the reversals they win."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from cases.models import EnforcementAction, Notice
from moderation.models import Account
from moderation.private_files import appeal_file_path, private_storage


class AppealKind(models.TextChoices):
    ACTION = "action", "An action taken on my account or story"
    FOLLOWERS = "followers", "My followers dropped"


class AppealStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    UPHELD = "upheld", "Decision upheld"
    OVERTURNED = "overturned", "Overturned"
    PARTIALLY_OVERTURNED = "partially_overturned", "Partially overturned"


OPEN_APPEAL_STATUSES = (AppealStatus.SUBMITTED, AppealStatus.IN_REVIEW)


class Appeal(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="appeals")
    kind = models.CharField(max_length=16, choices=AppealKind.choices)
    action = models.ForeignKey(
        EnforcementAction, null=True, blank=True, on_delete=models.PROTECT, related_name="appeals"
    )
    notice = models.ForeignKey(Notice, null=True, blank=True, on_delete=models.PROTECT, related_name="appeals")
    followers_dropped_on = models.DateField(null=True, blank=True)
    writer_statement = models.TextField(help_text="What the writer says, in their words.")
    contact_email = models.EmailField()
    tracking_token = models.CharField(max_length=64, unique=True, help_text="Unguessable status-page token.")
    status = models.CharField(max_length=24, choices=AppealStatus.choices, default=AppealStatus.SUBMITTED)
    money_at_stake = models.BooleanField(default=False, help_text="Partner Program earnings affected.")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="claimed_appeals"
    )
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="appeal_decisions"
    )
    decision_statement = models.TextField(blank=True, help_text="What the writer reads.")
    internal_note = models.TextField(blank=True, help_text="Internal. Never shown to the writer.")
    restored_summary = models.JSONField(default=dict, blank=True, help_text="What was restored, for the writer.")
    submitted_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    personal_data_erased_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Contact email and the writer's statement deleted under the retention policy.",
    )

    class Meta:
        ordering = ["submitted_at"]
        permissions = [("review_appeal", "Can claim and decide appeals")]
        constraints = [
            models.UniqueConstraint(
                fields=["action"],
                condition=Q(status__in=["submitted", "in_review"]) & Q(action__isnull=False),
                name="appeal_one_open_per_action",
            ),
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status__in=["submitted", "in_review"]) & Q(kind="followers"),
                name="appeal_one_open_followers_per_account",
            ),
            models.CheckConstraint(
                condition=~Q(kind="action") | Q(action__isnull=False), name="appeal_action_kind_names_action"
            ),
            models.CheckConstraint(
                condition=Q(assignee__isnull=True, claim_expires_at__isnull=True)
                | Q(assignee__isnull=False, claim_expires_at__isnull=False),
                name="appeal_claim_has_lease",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["submitted", "in_review"])
                | (Q(decided_by__isnull=False) & Q(decided_at__isnull=False)),
                name="appeal_decided_has_decider",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-money_at_stake", "submitted_at"], name="appeal_queue_idx"),
        ]

    def __str__(self):
        return f"Appeal #{self.pk} by {self.account}"


class AppealFile(models.Model):
    appeal = models.ForeignKey(Appeal, on_delete=models.PROTECT, related_name="files")
    file = models.FileField(upload_to=appeal_file_path, storage=private_storage)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.original_name


class FollowerVerdict(models.TextChoices):
    REINSTATE = "reinstate", "Genuine: reinstate"
    KEEP_PURGED = "keep_purged", "Fake: keep purged"


class GenuineFollowerConsequence(models.TextChoices):
    """What judging a purged follower genuine does to that account's own case."""

    REQUEUE = "requeue", "Send its case back to review"
    REVERSE = "reverse", "Reverse its own actions too"


class PurgedFollowerReview(models.Model):
    """One purged account that had followed the appellant, with the reviewer's verdict."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="follower_reviews")
    follower = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    purge_action = models.ForeignKey(EnforcementAction, on_delete=models.PROTECT, related_name="+")
    suggested_verdict = models.CharField(max_length=16, choices=FollowerVerdict.choices)
    verdict = models.CharField(max_length=16, choices=FollowerVerdict.choices, blank=True)
    consequence = models.CharField(
        max_length=16,
        choices=GenuineFollowerConsequence.choices,
        blank=True,
        help_text="For a follower judged genuine: what happened to its own case.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["appeal", "follower"], name="follower_review_once"),
            # Only a follower judged genuine has a consequence (older reviews have none).
            models.CheckConstraint(
                condition=Q(consequence="") | Q(verdict="reinstate"),
                name="follower_review_consequence_only_if_genuine",
            ),
        ]

    def __str__(self):
        return f"{self.follower} on appeal #{self.appeal_id}"


class RestorationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"


class FollowerRestoration(models.Model):
    """Brings back the follows one purge removed from one genuine follower to the
    appellant, and nothing else. Its own row rather than an outbox entry: the outbox
    holds one reversal per action, while several writers' appeals may each restore
    their own edges from the same purge. Batched through the platform adapter with a
    cursor, so a crashed job resumes without counting twice."""

    appeal = models.ForeignKey(Appeal, on_delete=models.PROTECT, related_name="restorations")
    purge_action = models.ForeignKey(EnforcementAction, on_delete=models.PROTECT, related_name="+")
    follower = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    followee = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=RestorationStatus.choices, default=RestorationStatus.PENDING)
    progress_total = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0, help_text="Edges restored, across every run.")
    cursor = models.BigIntegerField(default=0, help_text="Last edge id handled; a resumed run starts after it.")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["appeal", "purge_action"], name="restoration_once_per_purge"),
            models.CheckConstraint(
                condition=Q(progress_done__lte=models.F("progress_total")) | Q(progress_total=0),
                name="restoration_progress_bounded",
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(done_at__isnull=False), name="restoration_done_has_time"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="restoration_pending_idx")]

    def __str__(self):
        return f"Follows of {self.follower} to {self.followee} (appeal #{self.appeal_id})"


class MagicLinkRequest(models.Model):
    """What a visitor typed on the sign-in page, kept only until the email job has read
    it. The job (its outbox row, the admin, the RQ console) carries this row's id, never
    the handle or email; the job deletes the row once it has run, and pruning
    (supervision.pruning) removes any a failed job left behind. No admin page shows it."""

    handle = models.CharField(max_length=64)
    email = models.CharField(max_length=254)
    language = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Sign-in link request #{self.pk}"
