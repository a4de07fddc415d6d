"""The weekly digest (channel managers) and next-best-action notice (partner users): content from
the rollups, a bounded number of queries, once per person and ISO week even when run again."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scope

from enablement.models import ActivityEvent
from kpis.notices import iso_week, weekly_digest_notify
from kpis.patterns.services import playbook_create_from_run
from kpis.patterns.tasks import next_actions_weekly_tenant
from kpis.tasks import weekly_digest_tenant
from partners.notifications.models import Notification, NotificationKind
from tests import factories as f
from tests.patterns.test_views import world  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def _digest_world(tenant, n_partners=6):
    today = timezone.localdate()
    start = today.replace(day=1)
    end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    definition = f.KpiDefinitionFactory(tenant=tenant, target=Decimal("80"))
    f.KpiResultFactory(definition=definition, period_start=start, period_end=end, value=Decimal("62.5"),
                       status="at_risk")
    partners = [f.PartnerFactory(tenant=tenant, name=f"Partner {i:02d}") for i in range(n_partners)]
    for i, p in enumerate(partners):
        f.KpiResultFactory(definition=definition, period_start=start, period_end=end, partner=p,
                           value=Decimal("10"), status="off_track" if i % 2 == 0 else "on_track")
    f.FaqSearchFactFactory(tenant=tenant, partner=partners[0], day=today, query="値引き", zero_result_searches=4,
                           unresolved_searches=4)
    f.FaqSearchFactFactory(tenant=tenant, partner=partners[1], day=today - dt.timedelta(days=30), query="old gap",
                           unresolved_searches=9)
    return partners


def test_digest_content_from_rollups_with_bounded_queries(tenant_a, manager_a, admin_a, partner_user_a,
                                                          django_capture_on_commit_callbacks):
    with scope(tenant=tenant_a.pk):
        _digest_world(tenant_a)
        assert not ActivityEvent.objects.exists()  # nothing in the raw log: the digest reads rollups only
    with CaptureQueriesContext(connection) as small, django_capture_on_commit_callbacks() as callbacks:
        weekly_digest_tenant(tenant_a.pk)
    assert len(small) <= 12
    for callback in callbacks:
        callback()
    with scope(tenant=tenant_a.pk):
        notes = list(Notification.objects.filter(kind=NotificationKind.DIGEST_WEEKLY))
    assert {n.recipient_id for n in notes} == {manager_a.user_id, admin_a.user_id}  # not the partner user
    body = notes[0].body
    assert notes[0].title == f"週次ダイジェスト（{iso_week(timezone.localdate())}）"
    assert "支援消化率: 62.5% (目標 80.0%) — 注意" in body
    assert "Partner 00: 未達 1件、注意 0件" in body and "Partner 01" not in body
    assert "「値引き」: 未解決 4件" in body and "old gap" not in body
    assert len(mail.outbox) == 2

    # More partners and gaps: the same number of queries (no per-partner query).
    with scope(tenant=tenant_a.pk):
        more = f.TenantFactory(slug="more", default_language="en")
    with scope(tenant=more.pk):
        _digest_world(more, n_partners=40)
        f.MembershipFactory(tenant=more, role="channel_manager")
    with CaptureQueriesContext(connection) as big, django_capture_on_commit_callbacks():
        weekly_digest_tenant(more.pk)
    assert len(big) == len(small)

    # Run again the same week (beat twice, a retry): nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        weekly_digest_tenant(tenant_a.pk)
    with scope(tenant=tenant_a.pk):
        assert Notification.objects.filter(kind=NotificationKind.DIGEST_WEEKLY).count() == 2
    assert len(mail.outbox) == 2  # the other tenant's callbacks were not run


def test_digest_next_week_is_a_new_notice(tenant_a, manager_a, django_capture_on_commit_callbacks):
    today = timezone.localdate()
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        weekly_digest_notify(tenant=tenant_a, today=today)
        weekly_digest_notify(tenant=tenant_a, today=today + dt.timedelta(days=7))
        assert Notification.objects.count() == 2
    assert len(mail.outbox) == 2


def test_next_best_action_weekly_once_per_user_and_week(tenant_a, world, make_member,  # noqa: F811
                                                        django_capture_on_commit_callbacks):
    laggard = world["others"][0]
    member = make_member(tenant_a, "partner_user", partner=laggard)
    done_member = make_member(tenant_a, "partner_user", partner=world["top"][0])  # nothing left to do
    with scope(tenant=tenant_a.pk):
        playbook_create_from_run(tenant=tenant_a, run=world["run"], actor=None)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            next_actions_weekly_tenant(tenant_a.pk)
    with scope(tenant=tenant_a.pk):
        notes = list(Notification.objects.filter(kind=NotificationKind.NEXT_ACTIONS_WEEKLY))
    assert [n.recipient_id for n in notes] == [member.user_id]
    assert done_member.user_id not in {n.recipient_id for n in notes}
    assert "Pitch deck" in notes[0].body and "Deal registration masterclass" in notes[0].body
    assert len(mail.outbox) == 1
