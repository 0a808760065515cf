"""Supervision: QA sampling, detector recalls and report permissions."""

from django.db import models


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
