"""Deterministic demo data for the partners app: tenants, tiers, partners, users and roles.

Every step skips what already exists, so ``seed_demo`` can be run again at no cost.
Other apps extend the demo in their own ``demo`` modules (see ``seed_demo``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from partners.models import Membership, Partner, PartnerStatus, PartnerTier, Role, Tenant, User
from partners.reading import reading_of
from partners.tenancy import tenant_scope

DEMO_PASSWORD = "shien-demo-2026"
SEED = 20261126


@dataclass(frozen=True)
class TenantSpec:
    slug: str
    name: str
    language: str
    tiers: tuple[str, ...]
    segments: tuple[str, ...]
    regions: tuple[str, ...]
    company_words: tuple[str, ...]
    company_suffix: str
    managers: tuple[tuple[str, str], ...]
    domain: str


TENANTS = (
    TenantSpec(
        slug="sakura",
        name="さくらクラウド株式会社",
        language="ja",
        tiers=("プラチナ", "ゴールド", "シルバー", "登録"),
        segments=("エンタープライズ", "中堅企業", "SMB"),
        regions=("関東", "関西", "中部", "九州", "北海道・東北"),
        company_words=("東海", "北斗", "みらい", "桜井", "大和", "青葉", "富士", "瀬戸", "光", "新星", "朝日", "松風", "葵", "千代田",
                       "若葉", "銀河", "港北", "白鷺", "琥珀", "紅葉"),
        company_suffix="システムズ",
        managers=(("佐藤 美咲", "manager"), ("鈴木 健太", "manager2"), ("高橋 由美", "manager3")),
        domain="sakura.example",
    ),
    TenantSpec(
        slug="northwind",
        name="Northwind Software",
        language="en",
        tiers=("Platinum", "Gold", "Silver", "Registered"),
        segments=("Enterprise", "Mid-market", "SMB"),
        regions=("North America", "EMEA", "APAC", "LATAM"),
        company_words=("Bluewater", "Summit", "Redwood", "Ironbridge", "Lakeside", "Harbor", "Crescent", "Pinnacle", "Atlas",
                       "Evergreen", "Northstar", "Silverline", "Keystone", "Meridian", "Granite", "Beacon", "Cobalt", "Falcon",
                       "Horizon", "Juniper"),
        company_suffix="Solutions",
        managers=(("Emma Clarke", "manager"), ("Liam Patel", "manager2"), ("Olivia Chen", "manager3")),
        domain="northwind.example",
    ),
)
PARTNERS_PER_TENANT = 40


def partner_strength(partner: Partner) -> float:
    """A stable 0..1 "how engaged is this partner" used by every demo generator."""
    digest = hashlib.sha256(f"{partner.tenant_id}:{partner.name}".encode()).digest()
    noise = digest[0] / 255
    tier_rank = partner.tier.rank if partner.tier_id else 4
    base = {1: 0.85, 2: 0.65, 3: 0.45, 4: 0.25}.get(tier_rank, 0.25)
    status_adj = {"active": 0.1, "onboarding": 0.0, "nurturing": -0.2, "dormant": -0.35}[partner.status]
    return max(0.02, min(0.98, base + status_adj + (noise - 0.5) * 0.3))


FOUNDED_DAYS_AGO = 1000  # the demo tenants and their staff: before the oldest partner joined


def _start_of(day: dt.date, tenant: Tenant) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), tenant.zoneinfo)


def _status_for(i: int) -> str:
    # Every status represented: 22 active, 8 nurturing, 6 onboarding, 4 dormant of 40.
    if i < 22:
        return PartnerStatus.ACTIVE
    if i < 30:
        return PartnerStatus.NURTURING
    if i < 36:
        return PartnerStatus.ONBOARDING
    return PartnerStatus.DORMANT


@transaction.atomic
def seed_tenant(spec: TenantSpec, *, password_hash: str, log=print) -> tuple[Tenant, bool]:
    tenant, created = Tenant.objects.get_or_create(
        slug=spec.slug, defaults={"name": spec.name, "default_language": spec.language, "time_zone": "Asia/Tokyo"}
    )
    if not created:
        return tenant, False
    rng = random.Random(f"{SEED}:{spec.slug}")
    today = timezone.localdate()
    # Timestamps agree with the history seeded below: the tenant and its staff exist before the
    # oldest partner joined (at most 900 days ago), each partner and its users from its joining day.
    founded = timezone.now() - dt.timedelta(days=FOUNDED_DAYS_AGO)
    Tenant.objects.filter(pk=tenant.pk).update(created_at=founded)
    tenant.created_at = founded
    with tenant_scope(tenant):
        tiers = [PartnerTier.objects.create(tenant=tenant, name=name, rank=i + 1) for i, name in enumerate(spec.tiers)]

        def user(email: str, name: str, **extra) -> User:
            u, _ = User.objects.get_or_create(
                email=email, defaults={"name": name, "password": password_hash, "date_joined": founded, **extra}
            )
            return u

        admin = user(f"admin@{spec.domain}", "管理者" if spec.language == "ja" else "Admin", is_staff=True)
        Membership.objects.create(tenant=tenant, user=admin, role=Role.TENANT_ADMIN)
        managers = []
        for name, local in spec.managers:
            m = user(f"{local}@{spec.domain}", name)
            Membership.objects.create(tenant=tenant, user=m, role=Role.CHANNEL_MANAGER)
            managers.append(m)

        names = list(spec.company_words)
        rng.shuffle(names)
        partners = []
        for i in range(PARTNERS_PER_TENANT):
            word = names[i % len(names)]
            suffix = spec.company_suffix if i < len(names) else ("テクノロジー" if spec.language == "ja" else "Technologies")
            name = f"{word}{suffix}" if spec.language == "ja" else f"{word} {suffix}"
            status = _status_for(i)
            # Top tiers are mostly active; nurturing and dormant partners sit lower.
            tier = tiers[0] if i < 6 else tiers[1] if i < 16 else tiers[2] if i < 28 else tiers[3]
            partners.append(
                Partner(
                    tenant=tenant,
                    name=name,
                    name_kana=reading_of(name),
                    external_id=f"P-{spec.slug[:2].upper()}{i + 1:03d}",
                    tier=tier,
                    segment=spec.segments[i % len(spec.segments)],
                    region=spec.regions[rng.randrange(len(spec.regions))],
                    status=status,
                    manager=managers[i % len(managers)],
                    joined_on=today - dt.timedelta(days=rng.randint(200, 900) if status != "onboarding" else rng.randint(10, 120)),
                )
            )
            partners[-1].created_at = _start_of(partners[-1].joined_on, tenant)
        Partner.objects.bulk_create(partners)
        partners = list(Partner.objects.filter(tenant=tenant).order_by("external_id"))

        # Partner users: 2–3 per partner; the well-known demo login belongs to a nurturing partner.
        users, memberships = [], []
        demo_partner = next(p for p in partners if p.status == PartnerStatus.NURTURING)
        for idx, p in enumerate(partners):
            for k in range(2 + (idx % 2)):
                email = f"user{k + 1}.{p.external_id.lower()}@{spec.domain}"
                users.append(User(email=email, name=f"{p.name} {k + 1}", password=password_hash, date_joined=p.created_at))
        User.objects.bulk_create(users, ignore_conflicts=True)
        by_email = {u.email: u for u in User.objects.filter(email__endswith=f"@{spec.domain}")}
        for idx, p in enumerate(partners):
            for k in range(2 + (idx % 2)):
                memberships.append(
                    Membership(tenant=tenant, user=by_email[f"user{k + 1}.{p.external_id.lower()}@{spec.domain}"],
                               role=Role.PARTNER_USER, partner=p)
                )
        top_partner = partners[0]
        partner_login = user(f"partner@{spec.domain}", f"{demo_partner.name} 担当" if spec.language == "ja" else f"{demo_partner.name} rep")
        memberships.append(Membership(tenant=tenant, user=partner_login, role=Role.PARTNER_USER, partner=demo_partner))
        top_login = user(f"top@{spec.domain}", f"{top_partner.name}")
        memberships.append(Membership(tenant=tenant, user=top_login, role=Role.PARTNER_USER, partner=top_partner))
        Membership.objects.bulk_create(memberships)
    log(f"  {spec.slug}: {len(tiers)} tiers, {len(partners)} partners, {len(memberships)} partner users")
    return tenant, True


def seed(*, log=print) -> list[tuple[Tenant, bool]]:
    password_hash = make_password(DEMO_PASSWORD)  # hashed once: every demo user shares it
    results = [seed_tenant(spec, password_hash=password_hash, log=log) for spec in TENANTS]
    # A reseller who works with both vendors (exercises the tenant picker).
    reseller, _ = User.objects.get_or_create(
        email="reseller@multi.example",
        defaults={"name": "Reseller (both vendors)", "password": password_hash,
                  "date_joined": timezone.now() - dt.timedelta(days=FOUNDED_DAYS_AGO)},
    )
    for tenant, _created in results:
        with tenant_scope(tenant):
            if not Membership.objects.filter(tenant=tenant, user=reseller).exists():
                partner = Partner.objects.filter(tenant=tenant, status=PartnerStatus.ACTIVE).order_by("external_id")[1]
                Membership.objects.create(tenant=tenant, user=reseller, role=Role.PARTNER_USER, partner=partner)
    if not User.objects.filter(email="operator@shien.example").exists():
        User.objects.create_superuser("operator@shien.example", DEMO_PASSWORD, name="Platform operator")
    emails_mark_verified()
    return results


def emails_mark_verified() -> None:
    """Demo people log in under mandatory e-mail verification: their addresses count as verified."""
    from allauth.account.models import EmailAddress

    known = set(EmailAddress.objects.values_list("user_id", flat=True))
    EmailAddress.objects.bulk_create([
        EmailAddress(user_id=pk, email=email, verified=True, primary=True)
        for pk, email in User.objects.values_list("pk", "email") if pk not in known
    ])
