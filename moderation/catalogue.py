"""Version 1 of the policy catalogue, as POLICY.md and the platform's published rules
state it. Loaded by a data migration; later versions are published from the admin."""

from moderation.models import Outcome as O
from moderation.models import Severity as S

_STORY_MILD = [O.WARNING, O.DISTRIBUTION_NO_BOOST, O.DISTRIBUTION_NETWORK_ONLY]
_ACCOUNT = [O.ACCOUNT_RESTRICT, O.ACCOUNT_SUSPEND]
_PARTNER = [O.PARTNER_EARNINGS_HOLD, O.PARTNER_REVOKE]

SPAM_RULES = "Medium Rules: Spam or Site Misuse"
AI_POLICY = "Artificial Intelligence (AI) content policy"
PARTNER_TERMS = "Partner Program terms: engagement and earnings"

DEFAULT_TEMPLATE = (
    "We reviewed {story_title} on @{handle} and found that it breaks our rule on {policy_title}. {policy_description}"
)

CATALOGUE = [
    # Engagement manipulation
    dict(
        code="engagement.self",
        family="engagement",
        severity=S.HIGH,
        source=PARTNER_TERMS,
        title="Engaging with your own accounts",
        description="Several accounts run by one person engaging with each other to earn money is not allowed. Medium allows multiple accounts, but you can't engage with your own accounts.",
        allowed=[O.WARNING, *_PARTNER, *_ACCOUNT, O.FOLLOWERS_PURGE],
        default=[O.PARTNER_REVOKE],
        repeat=[O.ACCOUNT_SUSPEND],
    ),
    dict(
        code="engagement.ring",
        family="engagement",
        severity=S.HIGH,
        source=PARTNER_TERMS,
        title="Engagement circles and rings",
        description="Engagement circles, clap-for-clap or follow-for-follow rings, and reading clubs that trade reads inflate earnings and rankings and are not allowed.",
        allowed=[O.WARNING, *_PARTNER, *_ACCOUNT, O.FOLLOWERS_PURGE],
        default=[O.PARTNER_EARNINGS_HOLD],
        repeat=[O.PARTNER_REVOKE],
    ),
    dict(
        code="engagement.no_value_responses",
        family="engagement",
        severity=S.MEDIUM,
        source=PARTNER_TERMS,
        title="Low-effort responses for reciprocal attention",
        description="Leaving large numbers of low-effort responses to attract reciprocal attention is not allowed.",
        allowed=[O.WARNING, O.STORY_REMOVE, *_PARTNER, O.ACCOUNT_RESTRICT],
        default=[O.ACCOUNT_RESTRICT],
        repeat=[O.PARTNER_REVOKE],
    ),
    dict(
        code="engagement.bulk_interactions",
        family="engagement",
        severity=S.MEDIUM,
        source=SPAM_RULES,
        title="Bulk follows, claps and highlights",
        description="Disproportionate follows, claps, highlights or notes, especially automated ones (follow spam), are not allowed.",
        allowed=[O.WARNING, O.ACCOUNT_RESTRICT, O.ACCOUNT_SUSPEND, O.FOLLOWERS_PURGE, *_PARTNER],
        default=[O.ACCOUNT_RESTRICT],
        repeat=[O.ACCOUNT_SUSPEND],
    ),
    # Spam and site misuse
    dict(
        code="spam.external_traffic",
        family="spam",
        severity=S.MEDIUM,
        source=SPAM_RULES,
        title="Posting to drive outside traffic",
        description="Posting content primarily to drive traffic to, or increase the search rankings of, an external site, product, or service is not allowed.",
        allowed=[O.WARNING, *_STORY_MILD, O.STORY_REMOVE, *_ACCOUNT],
        default=[O.STORY_REMOVE],
        repeat=[O.ACCOUNT_RESTRICT],
    ),
    dict(
        code="spam.scraped",
        family="spam",
        severity=S.HIGH,
        source=SPAM_RULES,
        title="Scraped or reposted content",
        description="Scraping and reposting content from other sources for the primary purpose of generating revenue or other personal gains is not allowed.",
        allowed=[O.WARNING, O.PAYWALL_REMOVE, O.STORY_REMOVE, *_PARTNER, *_ACCOUNT],
        default=[O.STORY_REMOVE],
        repeat=[O.ACCOUNT_SUSPEND],
    ),
    dict(
        code="spam.duplicate",
        family="spam",
        severity=S.MEDIUM,
        source=SPAM_RULES,
        title="Duplicate content",
        description="Posting duplicate content, whether from a single account or across multiple accounts, is not allowed.",
        allowed=[O.WARNING, O.STORY_REMOVE, *_ACCOUNT],
        default=[O.STORY_REMOVE],
        repeat=[O.ACCOUNT_RESTRICT],
    ),
    dict(
        code="spam.clipped",
        family="spam",
        severity=S.LOW,
        source=SPAM_RULES,
        title="Clipped stories",
        description="Cutting a story short so readers must leave for another site to finish it is not allowed.",
        allowed=[O.WARNING, *_STORY_MILD, O.STORY_REMOVE],
        default=[O.STORY_REMOVE],
        repeat=[O.ACCOUNT_RESTRICT],
    ),
    dict(
        code="spam.promotional_interactions",
        family="spam",
        severity=S.LOW,
        source=SPAM_RULES,
        title="Promotional responses, mentions and tags",
        description="Using responses, mentions or tags repeatedly as marketing is not allowed.",
        allowed=[O.WARNING, O.STORY_REMOVE, *_ACCOUNT],
        default=[O.STORY_REMOVE],
        repeat=[O.ACCOUNT_RESTRICT],
    ),
    dict(
        code="spam.brigade",
        family="spam",
        severity=S.HIGH,
        source=SPAM_RULES,
        title="Bounty campaigns and brigades",
        description="Bounty campaigns or brigades that inflate rankings are not allowed.",
        allowed=[O.WARNING, O.STORY_REMOVE, *_PARTNER, *_ACCOUNT, O.FOLLOWERS_PURGE],
        default=[O.ACCOUNT_RESTRICT],
        repeat=[O.ACCOUNT_SUSPEND],
    ),
    dict(
        code="spam.templates",
        family="spam",
        severity=S.MEDIUM,
        source=SPAM_RULES,
        title="Templated posts",
        description="Near-identical templated posts across stories or accounts are not allowed.",
        allowed=[O.WARNING, O.STORY_REMOVE, *_ACCOUNT],
        default=[O.STORY_REMOVE],
        repeat=[O.ACCOUNT_RESTRICT],
    ),
    dict(
        code="spam.automation",
        family="spam",
        severity=S.CRITICAL,
        source=SPAM_RULES,
        title="Automated registering, posting or interacting",
        description="Registering, posting or interacting programmatically is not allowed.",
        allowed=[O.WARNING, O.STORY_REMOVE, *_ACCOUNT, O.FOLLOWERS_PURGE],
        default=[O.ACCOUNT_SUSPEND],
        repeat=[O.ACCOUNT_SUSPEND],
    ),
    dict(
        code="deception.revenue",
        family="deception",
        severity=S.HIGH,
        source=PARTNER_TERMS,
        title="Deception to generate revenue or traffic",
        description="Deceiving readers or the Partner Program to generate revenue or traffic is not allowed.",
        allowed=[O.WARNING, O.PAYWALL_REMOVE, O.STORY_REMOVE, *_PARTNER, *_ACCOUNT],
        default=[O.PARTNER_EARNINGS_HOLD],
        repeat=[O.PARTNER_REVOKE],
    ),
    # AI content
    dict(
        code="ai.paywalled_generated",
        family="ai",
        severity=S.MEDIUM,
        source=AI_POLICY,
        title="AI-generated writing behind the paywall",
        description="AI-generated writing (disclosed as such or not) is not allowed to be paywalled as part of the Partner Program. Stories may be removed from the paywall, and repeated cases may lead to Partner Program enrolment being revoked.",
        allowed=[O.WARNING, O.DISTRIBUTION_NO_BOOST, O.DISTRIBUTION_NETWORK_ONLY, O.PAYWALL_REMOVE, O.PARTNER_REVOKE],
        default=[O.PAYWALL_REMOVE],
        repeat=[O.PARTNER_REVOKE],
    ),
    dict(
        code="ai.undisclosed_generated",
        family="ai",
        severity=S.MEDIUM,
        source=AI_POLICY,
        title="Undisclosed AI-generated writing",
        description="Undisclosed AI-generated writing is given Network Only distribution: it is shown to the author's followers and subscribers only.",
        allowed=[O.WARNING, O.DISTRIBUTION_NO_BOOST, O.DISTRIBUTION_NETWORK_ONLY],
        default=[O.DISTRIBUTION_NETWORK_ONLY],
        repeat=[O.DISTRIBUTION_NETWORK_ONLY],
    ),
    dict(
        code="ai.undisclosed_assisted",
        family="ai",
        severity=S.LOW,
        source=AI_POLICY,
        title="AI-assisted writing without disclosure",
        description="A story that uses AI assistance must disclose it within the first two paragraphs; without it, the story is given Network Only distribution.",
        allowed=[O.WARNING, O.DISTRIBUTION_NO_BOOST, O.DISTRIBUTION_NETWORK_ONLY],
        default=[O.DISTRIBUTION_NETWORK_ONLY],
        repeat=[O.DISTRIBUTION_NETWORK_ONLY],
    ),
    dict(
        code="ai.image_uncaptioned",
        family="ai",
        severity=S.LOW,
        source=AI_POLICY,
        title="AI-generated image without caption",
        description="AI-generated images must be captioned as such; without a caption the story is given Network Only distribution.",
        allowed=[O.WARNING, O.DISTRIBUTION_NO_BOOST, O.DISTRIBUTION_NETWORK_ONLY],
        default=[O.DISTRIBUTION_NETWORK_ONLY],
        repeat=[O.DISTRIBUTION_NETWORK_ONLY],
    ),
    dict(
        code="ai.disclosed_generated",
        family="ai",
        severity=S.LOW,
        source=AI_POLICY,
        title="Disclosed AI-generated writing (not paywalled)",
        description="AI-generated writing that is disclosed and not paywalled is allowed and eligible for General Distribution, but not for Boost.",
        allowed=[O.DISTRIBUTION_NO_BOOST],
        default=[O.DISTRIBUTION_NO_BOOST],
        repeat=[O.DISTRIBUTION_NO_BOOST],
    ),
    dict(
        code="ai.seo_affiliate",
        family="ai",
        severity=S.HIGH,
        source=AI_POLICY,
        title="AI content for search ranking and affiliate links",
        description="AI content made to rank in search and push affiliate links is not allowed.",
        allowed=[O.WARNING, O.DISTRIBUTION_NETWORK_ONLY, O.STORY_REMOVE, *_ACCOUNT],
        default=[O.STORY_REMOVE],
        repeat=[O.ACCOUNT_RESTRICT],
    ),
    dict(
        code="ai.derivative_remix",
        family="ai",
        severity=S.HIGH,
        source=AI_POLICY,
        title="AI remixes of someone else's work",
        description="Using AI to rephrase, summarise or remix someone else's work is plagiarism and is not allowed.",
        allowed=[O.WARNING, O.STORY_REMOVE, O.ACCOUNT_RESTRICT],
        default=[O.STORY_REMOVE],
        repeat=[O.ACCOUNT_RESTRICT],
    ),
    dict(
        code="ai.prohibited_tooling",
        family="ai",
        severity=S.CRITICAL,
        source=AI_POLICY,
        title="Promoting AI tools for illegal or unethical ends",
        description="Content promoting AI tools for illegal or unethical purposes is not allowed.",
        allowed=[O.WARNING, O.STORY_REMOVE, *_ACCOUNT],
        default=[O.STORY_REMOVE],
        repeat=[O.ACCOUNT_SUSPEND],
    ),
]


def catalogue_rows():
    for entry in CATALOGUE:
        yield {
            "code": entry["code"],
            "version": 1,
            "family": entry["family"],
            "title": entry["title"],
            "description": entry["description"],
            "severity": int(entry["severity"]),
            "allowed_outcomes": [str(o) for o in entry["allowed"]],
            "default_outcomes": [str(o) for o in entry["default"]],
            "repeat_outcomes": [str(o) for o in entry["repeat"]],
            "statement_template": DEFAULT_TEMPLATE,
            "source": entry["source"],
            "is_current": True,
        }


# Strikes and escalation (issue 15) ------------------------------------------------------
# Loaded by their own data migration, so catalogue_rows() keeps the shape migration 0002
# was written for. How long a strike counts grows with the rule's severity; the ladder
# is the catalogue's warning → restriction → suspension, each step kept to outcomes the
# rule allows (a rule without account outcomes escalates to its repeat outcomes).

STRIKE_DAYS = {S.LOW: 90, S.MEDIUM: 180, S.HIGH: 365, S.CRITICAL: 730}
ESCALATION_WINDOW_DAYS = 365
NO_STRIKE = {"ai.disclosed_generated"}  # allowed content: a distribution note, not a breach


def escalation_ladder(entry) -> list[list[str]]:
    allowed = {str(o) for o in entry["allowed"]}
    repeat = [str(o) for o in entry["repeat"] if str(o) in allowed]
    ladder = []
    for step, fallback in (([O.WARNING], []), ([O.ACCOUNT_RESTRICT], repeat), ([O.ACCOUNT_SUSPEND], None)):
        outcomes = [str(o) for o in step if str(o) in allowed]
        if not outcomes:
            outcomes = fallback if fallback is not None else (ladder[-1] if ladder else [])
        if outcomes and (not ladder or ladder[-1] != outcomes):
            ladder.append(outcomes)
    return ladder


def strike_rows():
    for entry in CATALOGUE:
        yield {
            "code": entry["code"],
            "strike_days": 0 if entry["code"] in NO_STRIKE else STRIKE_DAYS[entry["severity"]],
            "escalation_window_days": ESCALATION_WINDOW_DAYS,
            "escalation_ladder": [] if entry["code"] in NO_STRIKE else escalation_ladder(entry),
        }
