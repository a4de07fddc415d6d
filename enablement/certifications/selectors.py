"""Reads of the certifications context.

``partner_coverage`` is the one reading of "certified" per partner used by the scorecard, the
partners dashboard, the KPIs and the next best action: a constant number of queries (four) for any
number of partners. A certificate counts for the partner it was issued under (``Certificate.partner``,
the holder's partner at issue time) while it is valid (``models.valid_q``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from enablement.certifications.models import (
    Certificate,
    CertificateStatus,
    Certification,
    TierCertificationRequirement,
    valid_q,
)
from partners.models import Tenant, User

EXPIRY_HORIZONS = (30, 60, 90)


def certifications_for_manage(*, tenant: Tenant) -> QuerySet[Certification]:
    return (
        Certification.objects.filter(tenant=tenant)
        .annotate(
            valid_count=Count("certificates", filter=valid_q(timezone.now(), "certificates__"), distinct=True),
            asset_count=Count("requirements", distinct=True),
        )
        .order_by("name")
    )


def certificates_for_holder(*, tenant: Tenant, user: User) -> QuerySet[Certificate]:
    """The person's own certificates, newest first (the portal's "my certificates")."""
    return (
        Certificate.objects.filter(tenant=tenant, holder=user)
        .select_related("certification")
        .order_by("-issued_at", "-pk")
    )


def partner_certificates(*, tenant: Tenant, partner, limit: int = 50) -> list[Certificate]:
    """A partner's certificates for its scorecard: valid ones first, soonest expiry first."""
    now = timezone.now()
    rows = list(
        Certificate.objects.filter(tenant=tenant, partner=partner)
        .select_related("holder", "certification")
        .order_by("expires_at", "pk")[:limit]
    )
    return sorted(rows, key=lambda c: (c.status(now) != CertificateStatus.VALID, c.expires_at))


def status_q(status: str, at: dt.datetime) -> Q:
    if status == CertificateStatus.VALID:
        return valid_q(at)
    if status == CertificateStatus.REVOKED:
        return Q(revoked_at__isnull=False, revoked_at__lte=at)
    if status == CertificateStatus.EXPIRED:
        return Q(expires_at__lte=at) & (Q(revoked_at__isnull=True) | Q(revoked_at__gt=at))
    return Q()


def certificate_holders(*, tenant: Tenant, certification: Certification, status: str = "") -> QuerySet[Certificate]:
    """Holders of one certification for the manage area (paged by the view)."""
    return (
        Certificate.objects.filter(status_q(status, timezone.now()), tenant=tenant, certification=certification)
        .select_related("holder", "partner", "revoked_by")
        .order_by("-issued_at", "-pk")
    )


@dataclass
class Gap:
    certification_id: int
    certification: str
    required: int
    have: int

    @property
    def missing(self) -> int:
        return max(self.required - self.have, 0)


@dataclass
class Coverage:
    partner_id: int
    certified_people: int = 0
    valid_certificates: int = 0
    requirements: list[Gap] = field(default_factory=list)
    expiring: dict[int, int] = field(default_factory=lambda: dict.fromkeys(EXPIRY_HORIZONS, 0))

    @property
    def gaps(self) -> list[Gap]:
        return [g for g in self.requirements if g.missing]

    @property
    def meets(self) -> bool:
        """Certified partner: meets every requirement of its tier; with none, ≥ 1 valid certificate."""
        if self.requirements:
            return not self.gaps
        return self.valid_certificates > 0


def partner_coverage(
    *,
    tenant: Tenant,
    partners: Iterable[tuple[int, int | None]],
    at: dt.datetime | None = None,
    requirements: Mapping[int, list[tuple[int, str, int]]] | None = None,
) -> dict[int, Coverage]:
    """``{partner_id: Coverage}`` for ``partners`` given as ``(partner_id, tier_id)`` pairs.
    ``requirements``: ``{tier_id: [(certification_id, name, people), …]}`` in force at ``at`` (a closed
    KPI period's, ``kpis.targeting.RequirementHistory``); by default the tiers' current requirements."""
    at = at or timezone.now()
    partners = list(partners)
    ids = [pid for pid, _tier in partners]
    out = {pid: Coverage(pid) for pid in ids}
    if not ids:
        return out
    by_tier: Mapping[int, list[tuple[int, str, int]]]
    if requirements is None:
        by_tier = defaultdict(list)
        for req in TierCertificationRequirement.objects.filter(tenant=tenant).select_related("certification").order_by(
            "certification__name", "pk"
        ):
            by_tier[req.tier_id].append((req.certification_id, req.certification.name, req.required_people))
    else:
        by_tier = requirements
    valid = Certificate.objects.filter(valid_q(at), tenant=tenant, partner_id__in=ids)
    have: dict[tuple[int, int], int] = {
        (r["partner_id"], r["certification_id"]): r["n"]
        for r in valid.values("partner_id", "certification_id").annotate(n=Count("holder_id", distinct=True)).order_by()
    }
    for r in valid.values("partner_id").annotate(
        people=Count("holder_id", distinct=True), certs=Count("id")
    ).order_by():
        out[r["partner_id"]].certified_people = r["people"]
        out[r["partner_id"]].valid_certificates = r["certs"]
    horizon = {days: at + dt.timedelta(days=days) for days in EXPIRY_HORIZONS}
    expiring = valid.filter(expires_at__lte=horizon[max(EXPIRY_HORIZONS)]).values("partner_id").annotate(
        **{f"d{days}": Count("id", filter=Q(expires_at__lte=horizon[days])) for days in EXPIRY_HORIZONS}
    ).order_by()
    for r in expiring:
        out[r["partner_id"]].expiring = {days: r[f"d{days}"] for days in EXPIRY_HORIZONS}
    for pid, tier_id in partners:
        out[pid].requirements = [
            Gap(certification_id, name, people, have.get((pid, certification_id), 0))
            for certification_id, name, people in by_tier.get(tier_id, []) if tier_id is not None
        ]
    return out


def expiring_certificates_count(
    *, tenant: Tenant, days: int, at: dt.datetime | None = None, partner_ids: Iterable[int] | None = None
) -> int:
    """Valid certificates at ``at`` that expire within the following ``days`` days."""
    at = at or timezone.now()
    qs = Certificate.objects.filter(valid_q(at), tenant=tenant, expires_at__lte=at + dt.timedelta(days=days))
    if partner_ids is not None:
        qs = qs.filter(partner_id__in=list(partner_ids))
    return qs.count()


def certificate_for_verification(code: str) -> Certificate | None:
    """The certificate behind a public verification code (any tenant: the code is the secret), or
    None. Callers run it with scopes visibly disabled."""
    if not code or len(code) > 64:
        return None
    found = list(
        Certificate.objects.filter(code=code).select_related("holder", "certification", "tenant")[:2]
    )
    return found[0] if len(found) == 1 else None
