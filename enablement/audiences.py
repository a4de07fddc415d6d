"""Who may see an asset or a learning path: the one definition every reader calls.

An asset (or path) with no ``AudienceRule`` is for every partner of the tenant. With rules, it is
only for the partners matching at least one of them: the partner's tier, its segment, or the
partner named. The portal (catalog, search, detail, download, media, progress), the next best
action filter through ``asset_audience_q``; REST ingestion and the xAPI mapping through
``pairs_outside_audience``; assigning an asset or path to partners outside its audience is refused
(``assignment_outside_audience``). ``_rule_matches`` is the one rule for "does this rule admit it".
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from enablement.models import Asset, AudienceRule, LearningPath
from partners.models import Partner, PartnerTier


def _matching(rules, partner: Partner):
    match = Q(partner_id=partner.pk)
    if partner.tier_id:
        match |= Q(tier_id=partner.tier_id)
    if partner.segment:
        match |= Q(segment=partner.segment)
    return rules.filter(match)


def asset_audience_q(partner: Partner, *, prefix: str = "") -> Q:
    """A filter for Asset querysets (or, with ``prefix="asset__"``, rows pointing at an asset):
    the assets this partner is in the audience of."""
    rules = AudienceRule.objects.filter(tenant_id=partner.tenant_id, asset_id=OuterRef(f"{prefix}pk"))
    return ~Q(Exists(rules)) | Q(Exists(_matching(rules, partner)))


def path_audience_q(partner: Partner) -> Q:
    rules = AudienceRule.objects.filter(tenant_id=partner.tenant_id, path_id=OuterRef("pk"))
    return ~Q(Exists(rules)) | Q(Exists(_matching(rules, partner)))


def audience_of(*, tenant, asset: Asset | None = None, path: LearningPath | None = None) -> dict:
    """The rules as three lists (tiers, segments, partners); all empty = everyone."""
    rules = AudienceRule.objects.filter(tenant=tenant, asset=asset, path=path).select_related("tier", "partner")
    out: dict = {"tiers": [], "segments": [], "partners": []}
    for rule in rules:
        if rule.tier_id:
            out["tiers"].append(rule.tier)
        elif rule.segment:
            out["segments"].append(rule.segment)
        else:
            out["partners"].append(rule.partner)
    return out


def _rule_matches(rule: dict, *, partner: Partner | None, tier: PartnerTier | None, segment: str) -> bool:
    """Does one rule (a ``values()`` row) admit this target? A partner matches by name, tier or
    segment; a tier or segment target only by a rule naming that tier or segment (a narrower
    audience would leave part of the target unable to open what it is asked to complete)."""
    if partner is not None:
        return (
            rule["partner_id"] == partner.pk
            or (rule["tier_id"] is not None and rule["tier_id"] == partner.tier_id)
            or (bool(rule["segment"]) and rule["segment"] == partner.segment)
        )
    if tier is not None:
        return rule["tier_id"] == tier.pk
    return bool(segment) and rule["segment"] == segment


def assignment_outside_audience(
    *, tenant, assets: list[Asset], path: LearningPath | None, partner: Partner | None, tier: PartnerTier | None,
    segment: str,
) -> list[Asset | LearningPath]:
    """The assets (and the path) whose audience does not admit this assignment target — one query."""
    subjects = [*assets, *([path] if path is not None else [])]
    rules: dict[tuple[str, int], list[dict]] = {}
    subject_q = Q(asset_id__in=[a.pk for a in assets]) | (Q(path_id=path.pk) if path is not None else Q(pk__in=[]))
    for rule in AudienceRule.objects.filter(tenant=tenant).filter(subject_q).values("asset_id", "path_id", "tier_id", "segment", "partner_id"):
        key = ("asset", rule["asset_id"]) if rule["asset_id"] else ("path", rule["path_id"])
        rules.setdefault(key, []).append(rule)
    outside = []
    for subject in subjects:
        subject_rules = rules.get(("path" if isinstance(subject, LearningPath) else "asset", subject.pk))
        if subject_rules and not any(_rule_matches(r, partner=partner, tier=tier, segment=segment) for r in subject_rules):
            outside.append(subject)
    return outside


def allowed_pairs(*, tenant, partners: list[Partner], asset_ids: list[int]) -> set[tuple[int, int]]:
    """The (partner id, asset id) pairs where the partner is in the asset's audience — one query,
    for bulk writers (the playbook's one-click assignment) that must not reach outside it."""
    rules: dict[int, list[dict]] = {}
    for rule in AudienceRule.objects.filter(tenant=tenant, asset_id__in=asset_ids).values(
        "asset_id", "tier_id", "segment", "partner_id"
    ):
        rules.setdefault(rule["asset_id"], []).append(rule)

    return {
        (p.pk, asset_id)
        for p in partners
        for asset_id in asset_ids
        if asset_id not in rules or any(_rule_matches(r, partner=p, tier=None, segment="") for r in rules[asset_id])
    }


def pairs_outside_audience(*, tenant, pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Of these (partner id, asset id) pairs, the ones whose partner is outside the asset's
    audience — two queries, for the ingestion paths (REST events, xAPI mapping)."""
    if not pairs:
        return set()
    partners = list(
        Partner.objects.filter(tenant=tenant, pk__in={pid for pid, _a in pairs}).only("pk", "tier_id", "segment")
    )
    allowed = allowed_pairs(tenant=tenant, partners=partners, asset_ids=sorted({a for _p, a in pairs}))
    return pairs - allowed

