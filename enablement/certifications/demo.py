"""Demo data of certifications (called by ``seed_demo`` after the enablement demo).

Per tenant: one certification over two demo trainings (12 months' validity), tier requirements
(top tier: 3 certified people, second tier: 2), the certificates the demo's completions earn
(issued by the real evaluation), plus certificates carried over from the vendor's previous LMS so
the pages show every state: some expiring within 30 / 60 / 90 days, one expired; and one earned
certificate revoked with a reason.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from enablement.certifications.models import Certificate, Certification
from enablement.certifications.services import (
    add_months,
    certificate_dates,
    certificate_revoke,
    certificates_evaluate,
    certification_create,
    tier_requirement_set,
)
from enablement.models import Asset, AssetKind
from partners.models import Membership, PartnerTier, Role

NAMES = {
    "ja": ("さくらクラウド認定セールス", "製品概要と価格体系の2つのトレーニングを修了した方に発行される認定です。"),
    "en": ("Certified Sales Associate", "Issued to people who completed the product overview and pricing trainings."),
}
REQUIRED = ("trn-product-overview", "trn-pricing-basics")
CARRIED_OVER_DAYS_LEFT = (12, 25, 44, 58, 75, 88, -20)  # days to expiry; the last one has expired


def seed(tenant, *, log=print) -> bool:
    if Certification.objects.filter(tenant=tenant).exists():
        return False
    assets = list(Asset.objects.filter(tenant=tenant, kind=AssetKind.TRAINING, external_id__in=REQUIRED))
    if len(assets) != len(REQUIRED):
        return False
    admin = (
        Membership.objects.filter(tenant=tenant, role=Role.TENANT_ADMIN).select_related("user").order_by("id").first()
    )
    actor = admin.user if admin else None
    name, description = NAMES["ja" if tenant.default_language == "ja" else "en"]
    now = timezone.now()
    with transaction.atomic():
        certification = certification_create(
            tenant=tenant, actor=actor, name=name, description=description, required_assets=assets,
            validity_months=12, renewal_window_days=60,
        )
        for tier, people in zip(PartnerTier.objects.filter(tenant=tenant).order_by("rank", "id")[:2], (3, 2),
                                strict=False):
            tier_requirement_set(tenant=tenant, actor=actor, tier=tier, certification=certification,
                                 required_people=people)
        earned = certificates_evaluate(tenant=tenant, now=now)
        holders = {c.holder_id for c in earned}
        others = list(
            Membership.objects.filter(tenant=tenant, role=Role.PARTNER_USER, is_active=True)
            .exclude(user_id__in=holders).order_by("partner_id", "id")
            .values_list("user_id", "partner_id")
        )
        # one person per partner first, so the coverage spreads over several partners
        seen, picked = set(), []
        for user_id, partner_id in others:
            if partner_id not in seen:
                seen.add(partner_id)
                picked.append((user_id, partner_id))
        carried = []
        for (user_id, partner_id), days_left in zip(picked, CARRIED_OVER_DAYS_LEFT, strict=False):
            expires = now + dt.timedelta(days=days_left)
            issued = add_months(expires, -certification.validity_months)
            _expires, renewable_from = certificate_dates(certification=certification, issued_at=issued, previous=None)
            carried.append(Certificate(
                tenant=tenant, certification=certification, holder_id=user_id, partner_id=partner_id,
                issued_at=issued, expires_at=_expires, renewable_from=renewable_from,
            ))
        Certificate.objects.bulk_create(carried)
        revoked = 0
        if earned and actor is not None:
            reason = "資格要件の不正な取得が判明したため" if tenant.default_language == "ja" else "Requirements were completed by someone else"
            certificate_revoke(tenant=tenant, certificate=earned[-1], reason=reason, actor=actor)
            revoked = 1
    log(f"  {tenant.slug}: certification with {len(earned)} earned, {len(carried)} carried-over and "
        f"{revoked} revoked certificates")
    return True
