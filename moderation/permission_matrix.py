"""One permission matrix: every URL of the back-office (admin pages and actions, staff
views, API endpoints, writer pages) against every principal, for GET and POST.

`tests/moderation/test_permission_matrix.py` walks it: each cell is requested (POST
with a valid CSRF token, so a refusal is the permission's, not CSRF's) and must be
allowed or refused as written; a URL pattern missing here fails the test, so a new page
cannot skip it. `python manage.py permission_matrix` prints it for the README (a test
checks the README copy matches).

Adding a principal or a URL is one line: the mirror API of the platform client, e.g.
    Row("api/v1/platform/accounts/", get=NOBODY, post={PLATFORM}),
"""

from __future__ import annotations

from dataclasses import dataclass, field

ANON = "anonymous"
WRITER = "writer"  # a writer holding the page's token (notice link, magic link, status link)
MODERATOR = "moderator"
SENIOR = "senior_moderator"
APPEALS = "appeals_reviewer"
SUPERVISOR = "supervisor"
SUPERUSER = "superuser"
SIGNALS = "signals_client"  # API key, scope `signals` (a detector)
PLATFORM = "platform_client"  # API key, scope `platform` (the platform's own client)

PRINCIPALS = (ANON, WRITER, MODERATOR, SENIOR, APPEALS, SUPERVISOR, SUPERUSER, SIGNALS, PLATFORM)
ABBREV = {
    ANON: "anon",
    WRITER: "wr",
    MODERATOR: "mod",
    SENIOR: "sen",
    APPEALS: "app",
    SUPERVISOR: "sup",
    SUPERUSER: "su",
    SIGNALS: "sig",
    PLATFORM: "plat",
}

NOBODY: frozenset[str] = frozenset()
EVERYONE = frozenset(PRINCIPALS)
SU = frozenset({SUPERUSER})
REVIEWERS = frozenset({MODERATOR, SENIOR, SUPERUSER})
STAFF = frozenset({MODERATOR, SENIOR, APPEALS, SUPERVISOR, SUPERUSER})
CASE_READERS = STAFF
SUPERVISION = frozenset({SUPERVISOR, SUPERUSER})
API_CLIENTS = frozenset({SIGNALS, PLATFORM})
ADMIN_STAFF = STAFF  # the admin site lets in active staff; API client users are not staff


@dataclass(frozen=True)
class Row:
    """One URL pattern (its route as Django writes it), who may GET and who may POST.

    `args` names the objects of the test world that fill the route's parameters.
    `token` marks writer pages: only WRITER holds a valid token, others send a forged
    one, and the page refuses it (400/404/410). `hides` marks a refusal by 404 (the
    object does not exist for this principal). `guard_first` marks views whose role
    check runs before anything else: past it, any answer of the view (a 404 for an
    object the test cannot make, a library error) proves the request was let in."""

    route: str
    get: frozenset[str]
    post: frozenset[str]
    args: dict[str, str] = field(default_factory=dict)
    token: bool = False
    hides: bool = False
    guard_first: bool = False
    note: str = ""


def admin_model(
    app_model: str,
    *,
    view: frozenset[str],
    add: frozenset[str] = NOBODY,
    change: frozenset[str] = NOBODY,
    changelist_post: frozenset[str] | None = None,
    obj: str,
    note: str = "",
) -> list[Row]:
    """The six URLs the admin gives a model. Deleting is refused everywhere (records
    are deactivated, revoked or reversed, never deleted); the change page is read-only
    for those who may view but not change."""
    base = f"admin/{app_model.replace('.', '/')}/"
    ids = {"object_id": obj}
    return [
        Row(base, get=view, post=changelist_post if changelist_post is not None else view, note=note),
        Row(base + "add/", get=add, post=add),
        Row(base + "<path:object_id>/history/", get=view, post=view, args=ids),
        Row(base + "<path:object_id>/delete/", get=NOBODY, post=NOBODY, args=ids),
        Row(base + "<path:object_id>/change/", get=view, post=change, args=ids),
        Row(
            base + "<path:object_id>/",
            get=ADMIN_STAFF,
            post=ADMIN_STAFF,
            args=ids,
            note="only redirects to the change page",
        ),
    ]


RQ_READ = SUPERVISION
RQ = "admin/django-rq/"


def RQRow(route: str, **kwargs) -> Row:
    """moderation.rq_console checks the role before django-rq looks anything up."""
    return Row(route, guard_first=True, **kwargs)


ROWS: list[Row] = [
    # The site, the API and its documents
    Row("", get=EVERYONE, post=EVERYONE, note="redirects to the admin"),
    Row("healthz", get=EVERYONE, post=EVERYONE),
    Row("api/v1/signals/", get=NOBODY, post={SIGNALS}, note="each item also needs a source the client may send"),
    Row("api/v1/^cases/$", get=CASE_READERS | {SIGNALS}, post=NOBODY, note="a client sees only its own cases"),
    Row("api/v1/platform/accounts/", get=NOBODY, post={PLATFORM}, note="the platform's facts: its client alone"),
    Row("api/v1/platform/stories/", get=NOBODY, post={PLATFORM}),
    Row("api/v1/platform/follows/", get=NOBODY, post={PLATFORM}),
    Row("api/v1/platform/engagement/", get=NOBODY, post={PLATFORM}),
    Row(
        "api/v1/^cases/(?P<pk>[^/.]+)/$",
        get=CASE_READERS,
        post=NOBODY,
        args={"pk": "case"},
        hides=True,
        note="clients get 404 for cases their signals did not join",
    ),
    Row("api/schema/", get=EVERYONE, post=NOBODY),
    Row("api/docs/", get=EVERYONE, post=NOBODY),
    # Writer pages
    Row("appeal/", get=EVERYONE, post=EVERYONE, note="same answer whatever was typed"),
    Row("appeal/start/<str:token>/", get={WRITER}, post={WRITER}, token=True, note="magic link"),
    Row("appeal/notice/<str:token>/", get={WRITER}, post={WRITER}, token=True, note="link in the decision notice"),
    Row("appeal/status/<str:token>/", get={WRITER}, post=NOBODY, token=True, note="appeal tracking token"),
    # Review (staff views)
    Row(
        "admin/demo/mail/",
        get=NOBODY,
        post=NOBODY,
        hides=True,
        note="the demo's outgoing mail: in DEBUG only (404 otherwise), for staff",
    ),
    Row("admin/review/queue/<slug:slug>/next/", get=NOBODY, post=REVIEWERS),
    Row("admin/review/queue/<slug:slug>/", get=REVIEWERS, post=REVIEWERS, note="the queue's list; filters are GET"),
    Row(
        "admin/review/queue/<slug:slug>/case/<int:pk>/claim/",
        get=NOBODY,
        post=REVIEWERS,
        args={"pk": "case"},
        note="claim from the list",
    ),
    Row(
        "admin/review/case/<int:pk>/",
        get=REVIEWERS | SUPERVISION,
        post=REVIEWERS | SUPERVISION,
        args={"pk": "case"},
        note="supervisors read it to assign; the decision form is the reviewer's",
    ),
    Row("admin/review/case/<int:pk>/claim/", get=NOBODY, post=REVIEWERS, args={"pk": "case"}),
    Row("admin/review/case/<int:pk>/renew/", get=NOBODY, post=REVIEWERS, args={"pk": "case"}),
    Row("admin/review/case/<int:pk>/release/", get=NOBODY, post=REVIEWERS, args={"pk": "case"}),
    Row("admin/review/case/<int:pk>/skip/", get=NOBODY, post=REVIEWERS, args={"pk": "case"}),
    Row("admin/review/case/<int:pk>/escalate/", get=NOBODY, post=REVIEWERS, args={"pk": "case"}),
    Row(
        "admin/review/case/<int:pk>/statement/",
        get=REVIEWERS,
        post=REVIEWERS,
        args={"pk": "case"},
        note="statement preview; changes nothing",
    ),
    Row("admin/review/case/<int:pk>/assign/", get=NOBODY, post={SENIOR, SUPERVISOR, SUPERUSER}, args={"pk": "case"}),
    Row(
        "admin/review/case/<int:pk>/evidence/",
        get=NOBODY,
        post=REVIEWERS,
        args={"pk": "case"},
        note="rebuild an evidence item; builders never decide",
    ),
    Row("admin/review/approvals/", get={SENIOR, SUPERUSER}, post={SENIOR, SUPERUSER}),
    Row("admin/review/decision/<int:pk>/approve/", get=NOBODY, post={SENIOR, SUPERUSER}, args={"pk": "decision"}),
    Row("admin/review/approvals/approve/", get=NOBODY, post={SENIOR, SUPERUSER}, note="many at once, each audited"),
    Row("admin/review/decision/<int:pk>/reject/", get=NOBODY, post={SENIOR, SUPERUSER}, args={"pk": "decision"}),
    Row("admin/review/bulk/", get=REVIEWERS, post=REVIEWERS),
    # Supervision (staff views)
    Row("admin/supervision/", get=SUPERVISION, post=SUPERVISION),
    Row("admin/supervision/detectors/<str:name>/<str:version>/", get=SUPERVISION, post=SUPERVISION),
    Row("admin/supervision/audit/", get=SUPERVISION, post=SUPERVISION),
    Row("admin/supervision/audit/verify/", get=NOBODY, post=SUPERVISION),
    Row("admin/supervision/audit/heads.jsonl", get=SUPERVISION, post=SUPERVISION, note="the signed heads"),
    Row("admin/supervision/decisions/", get=SUPERVISION, post=SUPERVISION),
    Row("admin/supervision/decisions/export.csv", get=SUPERVISION, post=SUPERVISION),
    Row("admin/supervision/qa/", get=SUPERVISION, post=SUPERVISION),
    Row("admin/supervision/qa/<int:pk>/settle/", get=SUPERVISION, post=SUPERVISION, args={"pk": "qa_sample"}),
    Row("admin/supervision/qa/review/next/", get=NOBODY, post=REVIEWERS),
    Row(
        "admin/supervision/qa/review/<int:pk>/",
        get=REVIEWERS,
        post=REVIEWERS,
        args={"pk": "qa_sample"},
        note="then only the reviewer holding the sample's claim",
    ),
    Row("admin/supervision/recall/", get=SUPERVISION, post=SUPERVISION),
    Row("admin/supervision/recall/runs/<int:pk>/", get=SUPERVISION, post=SUPERVISION, args={"pk": "recall"}),
    Row("admin/supervision/recall/runs/<int:pk>/resume/", get=NOBODY, post=SUPERVISION, args={"pk": "recall"}),
    Row(
        "admin/supervision/recall/plans/<int:pk>/",
        get=SUPERVISION,
        post=SUPERVISION,
        args={"pk": "recall"},
        note="a draft plan: then only the supervisor who drafted it",
    ),
    Row("admin/supervision/recall/<str:name>/<str:version>/", get=SUPERVISION, post=SUPERVISION),
    Row("admin/supervision/transparency/", get=SUPERVISION, post=SUPERVISION),
    Row("admin/supervision/transparency.csv", get=SUPERVISION, post=SUPERVISION),
    Row("admin/supervision/transparency.json", get=SUPERVISION, post=SUPERVISION),
    # The RQ console: supervisors read, superusers act
    RQRow(RQ, get=RQ_READ, post=RQ_READ),
    RQRow(RQ + "^stats.json/?$", get=RQ_READ, post=RQ_READ),
    RQRow(RQ + "^stats.json/(?P<token>[\\w]+)?/?$", get=RQ_READ, post=RQ_READ, note="no API-token door"),
    RQRow(RQ + "queues/<int:queue_index>/", get=RQ_READ, post=RQ_READ),
    RQRow(RQ + "queues/<int:queue_index>/details/", get=RQ_READ, post=RQ_READ),
    RQRow(RQ + "queues/<int:queue_index>/finished/", get=RQ_READ, post=RQ_READ),
    RQRow(RQ + "queues/<int:queue_index>/failed/", get=RQ_READ, post=RQ_READ),
    RQRow(RQ + "queues/<int:queue_index>/failed/clear/", get=SU, post=SU),
    RQRow(RQ + "queues/<int:queue_index>/scheduled/", get=RQ_READ, post=RQ_READ),
    RQRow(RQ + "queues/<int:queue_index>/started/", get=RQ_READ, post=RQ_READ),
    RQRow(RQ + "queues/<int:queue_index>/deferred/", get=RQ_READ, post=RQ_READ),
    RQRow(RQ + "queues/<int:queue_index>/empty/", get=SU, post=SU),
    RQRow(RQ + "queues/<int:queue_index>/requeue-all/", get=SU, post=SU),
    RQRow(RQ + "queues/<int:queue_index>/<str:job_id>/", get=RQ_READ, post=RQ_READ, note="job arguments are ids"),
    RQRow(RQ + "queues/<int:queue_index>/<str:job_id>/results/<str:result_id>/", get=RQ_READ, post=RQ_READ),
    RQRow(RQ + "queues/<int:queue_index>/<str:job_id>/delete/", get=SU, post=SU),
    RQRow(RQ + "queues/<int:queue_index>/<str:job_id>/requeue/", get=SU, post=SU),
    RQRow(RQ + "queues/<int:queue_index>/<str:job_id>/enqueue/", get=SU, post=SU),
    RQRow(RQ + "queues/<int:queue_index>/<str:job_id>/stop/", get=NOBODY, post=SU),
    RQRow(RQ + "queues/confirm-action/<int:queue_index>/", get=SU, post=SU),
    RQRow(RQ + "queues/actions/<int:queue_index>/", get=SU, post=SU),
    RQRow(RQ + "workers/<int:queue_index>/", get=RQ_READ, post=RQ_READ),
    RQRow(RQ + "workers/<int:queue_index>/<str:key>/", get=RQ_READ, post=RQ_READ),
    RQRow(RQ + "schedulers/<int:scheduler_index>/", get=RQ_READ, post=RQ_READ),
    RQRow(RQ + "cron-schedulers/<int:connection_index>/<str:scheduler_name>/", get=RQ_READ, post=RQ_READ),
    RQRow(
        RQ + "cron-schedulers/<int:connection_index>/<str:scheduler_name>/jobs/<path:cron_job_name>/",
        get=RQ_READ,
        post=RQ_READ,
    ),
    # The admin site itself
    Row("admin/", get=ADMIN_STAFF, post=ADMIN_STAFF),
    Row("admin/login/", get=EVERYONE, post=EVERYONE),
    Row(
        "admin/logout/",
        get={ANON, WRITER, SIGNALS, PLATFORM},
        post=EVERYONE,
        note="signed-out visitors are sent to the admin, then the login",
    ),
    Row("admin/password_change/", get=ADMIN_STAFF, post=ADMIN_STAFF),
    Row("admin/password_change/done/", get=ADMIN_STAFF, post=NOBODY),
    Row("admin/autocomplete/", get=NOBODY, post=NOBODY, note="no autocomplete fields are configured"),
    Row("admin/jsi18n/", get=ADMIN_STAFF, post=NOBODY),
    Row(
        "admin/r/<path:content_type_id>/<path:object_id>/",
        get=ADMIN_STAFF,
        post=ADMIN_STAFF,
        args={"content_type_id": "case_type", "object_id": "case"},
        guard_first=True,
        note="view on site",
    ),
    Row("admin/auth/user/<id>/password/", get=SU, post=SU, args={"id": "user"}),
    Row(
        "admin/cases/case/<int:case_id>/evidence/",
        get=NOBODY,
        post={MODERATOR, SENIOR, SUPERUSER},
        args={"case_id": "case"},
        note="add a note or file",
    ),
    Row(
        "admin/(?P<url>.*)$",
        get=NOBODY,
        post=NOBODY,
        hides=True,
        note="unknown admin URLs: the login, or 404 for staff",
    ),
    Row(
        "admin/^(?P<app_label>moderation|auth|cases|appeals|supervision)/$",
        get=STAFF,
        post=STAFF,
        note="an app's index, listing what the role may see",
    ),
    Row("admin/2fa/", get=STAFF, post=STAFF, note="enrol or enter a second-factor code"),
    Row("admin/lockouts/", get=SUPERVISION, post=SUPERVISION, note="lift a sign-in lock-out (audited)"),
    # Sign-in through the organisation's OpenID provider: 404 for everyone unless configured.
    Row("oidc/authenticate/", get=EVERYONE, post=NOBODY, note="off to the organisation's provider"),
    Row(
        "oidc/callback/",
        get=NOBODY,
        post=NOBODY,
        note="only the provider's signed answer to a sign-in this browser started gets past",
    ),
    Row("oidc/logout/", get=NOBODY, post=EVERYONE, note="sign out here; the provider's session is its own"),
    Row(
        "admin/review/evidence/<int:pk>/file/",
        get=STAFF,
        post=STAFF,
        args={"pk": "evidence_file"},
        note="a download, to staff who may view the case",
    ),
    Row("admin/appeals/appeal/claim-next/", get=NOBODY, post={APPEALS, SUPERUSER}),
    Row("admin/appeals/appeal/<int:pk>/claim/", get=NOBODY, post={APPEALS, SUPERUSER}, args={"pk": "appeal"}),
    Row("admin/appeals/appeal/<int:pk>/release/", get=NOBODY, post={APPEALS, SUPERUSER}, args={"pk": "appeal"}),
    Row("admin/appeals/appeal/<int:pk>/renew/", get=NOBODY, post={APPEALS, SUPERUSER}, args={"pk": "appeal"}),
    Row(
        "admin/appeals/appeal/<int:pk>/check-restoration/",
        get=NOBODY,
        post={APPEALS, SUPERVISOR, SUPERUSER},
        args={"pk": "appeal"},
    ),
    Row(
        "admin/appeals/appeal/<int:pk>/files/<int:file_id>/",
        get={APPEALS, SUPERVISOR, SUPERUSER},
        post={APPEALS, SUPERVISOR, SUPERUSER},
        args={"pk": "appeal", "file_id": "appeal_file"},
        note="the writer's evidence files",
    ),
    # Admin models: who views (the change page is read-only for them) and who changes
    *admin_model("auth.group", view=SU, add=SU, change=SU, obj="group"),
    *admin_model("auth.user", view=SU, add=SU, change=SU, obj="user"),
    *admin_model("moderation.account", view=STAFF, obj="account"),
    *admin_model("moderation.story", view=STAFF, obj="story"),
    *admin_model("moderation.follow", view=STAFF, obj="follow"),
    *admin_model("moderation.earningshold", view=STAFF, obj="hold"),
    *admin_model("moderation.policy", view=STAFF, change=SU, obj="policy", note="a change publishes version n+1"),
    *admin_model("moderation.auditevent", view=SUPERVISION, obj="audit_event"),
    *admin_model("moderation.apiclient", view=SUPERVISION, change=SU, obj="api_client"),
    *admin_model("moderation.apiclientkey", view=SU, add=SU, change=SU, obj="api_key"),
    *admin_model(
        "moderation.backgroundjob",
        view=SUPERVISION,
        obj="background_job",
        note="the outbox of background jobs; POST: retry failed jobs",
    ),
    *admin_model("cases.case", view=STAFF, obj="case"),
    *admin_model("cases.signal", view=STAFF, obj="signal"),
    *admin_model("cases.evidence", view=STAFF, obj="evidence"),
    *admin_model("cases.queue", view=STAFF, change=SUPERVISION, obj="queue"),
    *admin_model("cases.routingrule", view=SUPERVISION, add=SUPERVISION, change=SUPERVISION, obj="routing_rule"),
    *admin_model(
        "cases.cannedrationale",
        view=SUPERVISION,
        add=SUPERVISION,
        change=SUPERVISION,
        obj="canned_rationale",
        note="catalogue data, every save audited",
    ),
    *admin_model("cases.reporterstanding", view=SUPERVISION, obj="standing", note="POST: mute reporters"),
    *admin_model("cases.decision", view=STAFF, obj="decision"),
    *admin_model("cases.enforcementaction", view=STAFF, obj="action", note="POST: retry failed actions"),
    *admin_model("cases.outboxentry", view=STAFF, obj="outbox"),
    *admin_model("cases.notice", view=STAFF, obj="notice"),
    *admin_model("cases.strike", view=STAFF, obj="strike", note="read-only; counts above the list"),
    *admin_model(
        "appeals.appeal",
        view={APPEALS, SUPERVISOR, SUPERUSER},
        change={APPEALS, SUPERUSER},
        obj="appeal",
        note="the change page is the appeal review; its POST decides",
    ),
    *admin_model("appeals.followerrestoration", view={APPEALS, SUPERVISOR, SUPERUSER}, obj="restoration"),
    *admin_model("supervision.qasamplingrule", view=SUPERVISION, add=SUPERVISION, change=SUPERVISION, obj="qa_rule"),
    *admin_model("supervision.goldencase", view=SUPERVISION, add=SUPERVISION, change=SUPERVISION, obj="golden"),
    *admin_model("supervision.qasample", view=SUPERVISION, obj="qa_sample"),
    *admin_model("supervision.detectorrecall", view=SUPERVISION, obj="recall"),
    *admin_model("supervision.auditchaincheck", view=SUPERVISION, obj="chain_check"),
]


def rows_by_route() -> dict[str, Row]:
    return {row.route: row for row in ROWS}


def _cell(allowed: frozenset[str]) -> str:
    if allowed == EVERYONE:
        return "everyone"
    if not allowed:
        return "—"
    return " ".join(ABBREV[p] for p in PRINCIPALS if p in allowed)


def as_markdown() -> str:
    """The README table: one line per URL, who may GET, who may POST."""
    legend = ", ".join(f"`{ABBREV[p]}` {p.replace('_', ' ')}" for p in PRINCIPALS)
    lines = [
        f"Principals: {legend}. `—` nobody.",
        "",
        "| URL | GET | POST | note |",
        "|---|---|---|---|",
    ]
    for row in ROWS:
        route = row.route.replace("|", "\\|")
        lines.append(f"| `/{route}` | {_cell(row.get)} | {_cell(row.post)} | {row.note} |")
    return "\n".join(lines) + "\n"
