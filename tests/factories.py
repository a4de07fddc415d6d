"""factory-boy factories. Every SubFactory takes its tenant from its parent, so related rows
always belong to the same tenant (a factory can never build a cross-tenant row by accident)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import factory
from django.utils import timezone

from enablement.models import (
    ActivityEvent,
    Asset,
    AssetKind,
    AssetStatus,
    Assignment,
    AssignmentTarget,
    LearningPath,
    LearningPathItem,
    Team,
)
from kpis.models import (
    DailyActivityFact,
    FaqSearchFact,
    KpiDefinition,
    KpiResult,
    PartnerAssetState,
    UserAssetState,
)
from partners.deals.models import Deal, DealStage
from partners.models import (
    Membership,
    Partner,
    PartnerStatus,
    PartnerTier,
    Role,
    SupportActivity,
    Tenant,
    User,
)

PASSWORD = "correct-horse-battery"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Vendor {n}")
    slug = factory.Sequence(lambda n: f"vendor-{n}")
    time_zone = "Asia/Tokyo"
    default_language = "en"
    currency = factory.LazyAttribute(lambda o: "JPY" if o.default_language == "ja" else "USD")
    # Tests send events dated from 2025 on; ingestion refuses events from before the tenant existed.
    created_at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Sequence(lambda n: f"User {n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()
            from allauth.account.models import EmailAddress

            EmailAddress.objects.get_or_create(user=obj, email=obj.email, defaults={"verified": True, "primary": True})


class PartnerTierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerTier

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Tier {n}")
    rank = factory.Sequence(lambda n: n + 1)


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Partner {n}")
    tier = factory.SubFactory(PartnerTierFactory, tenant=factory.SelfAttribute("..tenant"))
    status = PartnerStatus.ACTIVE
    segment = "SMB"
    region = "Kanto"
    joined_on = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=200))


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.CHANNEL_MANAGER
    partner = None


class PartnerUserMembershipFactory(MembershipFactory):
    role = Role.PARTNER_USER
    partner = factory.SubFactory(PartnerFactory, tenant=factory.SelfAttribute("..tenant"))


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Team {n}")


class AssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Asset

    tenant = factory.SubFactory(TenantFactory)
    kind = AssetKind.TRAINING
    title = factory.Sequence(lambda n: f"Asset {n}")
    status = AssetStatus.PUBLISHED
    language = "en"
    duration_seconds = 600
    published_at = factory.LazyFunction(timezone.now)
    team = None


class LearningPathFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningPath

    tenant = factory.SubFactory(TenantFactory)
    title = factory.Sequence(lambda n: f"Path {n}")


class LearningPathItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningPathItem

    path = factory.SubFactory(LearningPathFactory)
    tenant = factory.SelfAttribute("path.tenant")
    asset = factory.SubFactory(AssetFactory, tenant=factory.SelfAttribute("..tenant"))
    position = factory.Sequence(lambda n: n)


class AssignmentFactory(factory.django.DjangoModelFactory):
    """Defaults to one asset assigned to one partner."""

    class Meta:
        model = Assignment

    tenant = factory.SubFactory(TenantFactory)
    asset = factory.SubFactory(AssetFactory, tenant=factory.SelfAttribute("..tenant"))
    target = AssignmentTarget.PARTNER
    partner = factory.SubFactory(PartnerFactory, tenant=factory.SelfAttribute("..tenant"))
    due_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=14))


class ActivityEventFactory(factory.django.DjangoModelFactory):
    """Only for building test logs directly; application code writes through activity_record."""

    class Meta:
        model = ActivityEvent

    tenant = factory.SubFactory(TenantFactory)
    partner = factory.SubFactory(PartnerFactory, tenant=factory.SelfAttribute("..tenant"))
    user = None
    asset = None
    verb = "portal.login"
    occurred_at = factory.LazyFunction(timezone.now)
    received_at = factory.LazyFunction(timezone.now)
    source = "portal"
    event_id = factory.LazyFunction(lambda: uuid.uuid4().hex)


class SupportActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupportActivity

    tenant = factory.SubFactory(TenantFactory)
    partner = factory.SubFactory(PartnerFactory, tenant=factory.SelfAttribute("..tenant"))
    kind = "meeting"
    occurred_on = factory.LazyFunction(timezone.localdate)
    duration_minutes = 60


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    tenant = factory.SubFactory(TenantFactory)
    partner = factory.SubFactory(PartnerFactory, tenant=factory.SelfAttribute("..tenant"))
    customer = factory.Sequence(lambda n: f"Customer {n}")
    product = "Shien Cloud"
    amount = 1_000_000
    currency = "JPY"
    stage = DealStage.REGISTERED


# --- dashboards: rollup facts and KPI results (built directly in tests, no rollup run) ------------


class DailyActivityFactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DailyActivityFact

    tenant = factory.SubFactory(TenantFactory)
    partner = factory.SubFactory(PartnerFactory, tenant=factory.SelfAttribute("..tenant"))
    asset = factory.SubFactory(AssetFactory, tenant=factory.SelfAttribute("..tenant"))
    day = factory.LazyFunction(timezone.localdate)
    verb = "training.started"
    event_count = 1
    user_count = 1


class PartnerAssetStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerAssetState

    tenant = factory.SubFactory(TenantFactory)
    partner = factory.SubFactory(PartnerFactory, tenant=factory.SelfAttribute("..tenant"))
    asset = factory.SubFactory(AssetFactory, tenant=factory.SelfAttribute("..tenant"))
    first_activity_at = factory.LazyFunction(timezone.now)
    last_activity_at = factory.LazyFunction(timezone.now)
    completed_users = 0
    active_users = 1


class UserAssetStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserAssetState

    tenant = factory.SubFactory(TenantFactory)
    partner = factory.SubFactory(PartnerFactory, tenant=factory.SelfAttribute("..tenant"))
    user = factory.SubFactory(UserFactory)
    asset = factory.SubFactory(AssetFactory, tenant=factory.SelfAttribute("..tenant"))
    first_activity_at = factory.LazyFunction(timezone.now)
    last_activity_at = factory.LazyFunction(timezone.now)
    watched_share = 0.5
    max_progress = 50


class FaqSearchFactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FaqSearchFact

    tenant = factory.SubFactory(TenantFactory)
    partner = factory.SubFactory(PartnerFactory, tenant=factory.SelfAttribute("..tenant"))
    day = factory.LazyFunction(timezone.localdate)
    query = factory.Sequence(lambda n: f"keyword {n}")
    searches = 3
    zero_result_searches = 0
    unresolved_searches = 1


class KpiDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KpiDefinition

    tenant = factory.SubFactory(TenantFactory)
    name_ja = "支援消化率"
    name_en = "Enablement completion rate"
    metric = "enablement_completion_rate"
    period = "month"
    target = Decimal("80")
    direction = "higher"


class KpiResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KpiResult

    definition = factory.SubFactory(KpiDefinitionFactory)
    tenant = factory.SelfAttribute("definition.tenant")
    period_start = factory.LazyFunction(lambda: timezone.localdate().replace(day=1))
    period_end = factory.LazyAttribute(
        lambda o: (o.period_start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    )
    partner = None
    numerator = Decimal("7")
    denominator = Decimal("10")
    value = Decimal("70")
    target = factory.SelfAttribute("definition.target")
    status = "at_risk"


def refresh(obj):
    """``refresh_from_db`` inside the object's tenant scope (row-level security on PostgreSQL
    shows a tenant's rows only inside its scope, like the scoped manager)."""
    from django_scopes import scope

    with scope(tenant=obj.tenant_id):
        obj.refresh_from_db()
    return obj
