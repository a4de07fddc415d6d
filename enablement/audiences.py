"""Who may see an asset or a learning path: the one definition every reader calls.

An asset (or path) with no ``AudienceRule`` is for every partner of the tenant. With rules, it is
only for the partners matching at least one of them: the partner's tier, its segment, or the
partner named. The portal (catalog, search, detail, download, media, progress), the next best
action and the xAPI/API mapping filter through ``asset_audience_q``; assigning an asset or path to
partners outside its audience is refused (``assignment_audience_error``).
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


def in_audience(*, partner: Partner, asset: Asset | None = None, path: LearningPath | None = None) -> bool:
    if asset is not None:
        return Asset.objects.filter(tenant_id=partner.tenant_id, pk=asset.pk).filter(asset_audience_q(partner)).exists()
    return LearningPath.objects.filter(tenant_id=partner.tenant_id, pk=path.pk).filter(path_audience_q(partner)).exists()


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


def assignment_audience_error(
    *, tenant, asset: Asset | None, path: LearningPath | None, partner: Partner | None, tier: PartnerTier | None,
    segment: str,
) -> str | None:
    """Why an assignment of this asset/path to this target would reach partners outside the
    audience, or ``None`` when it is allowed. A tier or segment target is allowed only when the
    audience includes that tier or segment (or is everyone): a narrower audience would leave
    part of the target unable to open what it is asked to complete."""
    audience = audience_of(tenant=tenant, asset=asset, path=path)
    if not any(audience.values()):
        return None
    if partner is not None:
        ok = in_audience(partner=partner, asset=asset, path=path)
    elif tier is not None:
        ok = tier.pk in {t.pk for t in audience["tiers"]}
    else:
        ok = segment in audience["segments"]
    if ok:
        return None
    return "outside"


def allowed_pairs(*, tenant, partners: list[Partner], asset_ids: list[int]) -> set[tuple[int, int]]:
    """The (partner id, asset id) pairs where the partner is in the asset's audience — one query,
    for bulk writers (the playbook's one-click assignment) that must not reach outside it."""
    rules: dict[int, list[dict]] = {}
    for rule in AudienceRule.objects.filter(tenant=tenant, asset_id__in=asset_ids).values(
        "asset_id", "tier_id", "segment", "partner_id"
    ):
        rules.setdefault(rule["asset_id"], []).append(rule)

    def matches(partner: Partner, rule: dict) -> bool:
        return (
            rule["partner_id"] == partner.pk
            or (rule["tier_id"] is not None and rule["tier_id"] == partner.tier_id)
            or (bool(rule["segment"]) and rule["segment"] == partner.segment)
        )

    return {
        (p.pk, asset_id)
        for p in partners
        for asset_id in asset_ids
        if asset_id not in rules or any(matches(p, r) for r in rules[asset_id])
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

