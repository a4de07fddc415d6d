import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django_scopes import scope

from enablement.models import Assignment, LearningPathItem
from kpis.models import KpiInputChange
from kpis.patterns.mining import mine_patterns
from kpis.patterns.models import PatternRun
from kpis.patterns.selectors import next_best_actions, partner_cohorts, playbook_adoption
from kpis.patterns.services import playbook_assign, playbook_create_from_run
from partners.models import Membership
from tests import factories as f
from tests.patterns.helpers import build_world, consume, long_ago

pytestmark = pytest.mark.django_db


def url(name, tenant, **kw):
    return reverse(name, kwargs={"tenant_slug": tenant.slug, **kw})


@pytest.fixture
def world(tenant_a):
    """Relative to today: top partners completed the masterclass and viewed the deck before their first win."""
    today = timezone.localdate()
    with scope(tenant=tenant_a.pk):
        top, others = build_world(tenant_a, today=today)
        masterclass = f.AssetFactory(tenant=tenant_a, published_at=long_ago(), title="Deal registration masterclass", external_id="deal-registration-masterclass")
        deck = f.AssetFactory(tenant=tenant_a, published_at=long_ago(), title="Pitch deck", kind="document")
        for p in top:
            consume(tenant_a, p, deck, today - dt.timedelta(days=160))
            consume(tenant_a, p, masterclass, today - dt.timedelta(days=130))
        consume(tenant_a, others[12], deck, today - dt.timedelta(days=30))
        run = mine_patterns(tenant=tenant_a)
    return {"top": top, "others": others, "masterclass": masterclass, "deck": deck, "run": run}


def test_playbook_from_run_ordered_by_typical_order(tenant_a, world):
    with scope(tenant=tenant_a.pk):
        path = playbook_create_from_run(tenant=tenant_a, run=world["run"], actor=None)
        assert path.is_playbook
        assets = list(LearningPathItem.objects.filter(path=path).order_by("position").values_list("asset_id", flat=True))
        assert assets == [world["deck"].pk, world["masterclass"].pk]  # deck first: top partners used it first
        # idempotent per run
        assert playbook_create_from_run(tenant=tenant_a, run=world["run"], actor=None) == path


def test_one_click_assignment_is_idempotent(tenant_a, world):
    with scope(tenant=tenant_a.pk):
        path = playbook_create_from_run(tenant=tenant_a, run=world["run"], actor=None)
        nurture = partner_cohorts(tenant=tenant_a).nurture
        partners = [r.partner for r in nurture]
        due = timezone.localdate() + dt.timedelta(days=30)
        KpiInputChange.objects.filter(tenant=tenant_a).delete()
        created = playbook_assign(tenant=tenant_a, path=path, partners=partners, due_on=due, actor=None)
        assert created == len(partners) * 2
        # the KPI job: everything for the results, the overview's counts of these partners only
        marker = KpiInputChange.objects.get(tenant=tenant_a)
        assert marker.everything and marker.partner_ids == sorted(p.pk for p in partners)
        pairs = list(Assignment.objects.filter(source="playbook").values_list("partner_id", "asset_id"))
        assert len(pairs) == len(set(pairs)) == len(partners) * 2
        assert {p for p, _a in pairs} == {p.pk for p in partners}
        assert all(a.target == "partner" and a.due_on == due for a in Assignment.objects.all())
        assert playbook_assign(tenant=tenant_a, path=path, partners=partners, due_on=due, actor=None) == 0
        assert Assignment.objects.count() == len(partners) * 2


def test_next_best_action_and_adoption(tenant_a, world):
    with scope(tenant=tenant_a.pk):
        path = playbook_create_from_run(tenant=tenant_a, run=world["run"], actor=None)
        laggard = world["others"][0]
        with translation.override("en"):
            actions = next_best_actions(tenant=tenant_a, partner=laggard)
        assert [a.asset for a in actions] == [world["deck"], world["masterclass"]]
        assert actions[1].reason.startswith("100% of top partners completed this before their first win")
        assert "not started" in actions[1].reason
        consume(tenant_a, laggard, world["deck"], timezone.localdate())
        assert [a.asset for a in next_best_actions(tenant=tenant_a, partner=laggard)] == [world["masterclass"]]
        assert next_best_actions(tenant=tenant_a, partner=world["top"][0]) == []
        playbook_assign(tenant=tenant_a, path=path, partners=[laggard], due_on=timezone.localdate(), actor=None)
        rows = playbook_adoption(tenant=tenant_a, path=path)
        assert len(rows) == 1 and rows[0].partner == laggard and rows[0].done == 1 and rows[0].items_total == 2


def test_patterns_page_end_to_end(client, login, manager_a, tenant_a, world, django_assert_max_num_queries):
    login(manager_a)
    with django_assert_max_num_queries(30):
        r = client.get(url("manage-patterns", tenant_a))
    assert r.status_code == 200
    body = r.content.decode()
    assert "Deal registration masterclass" in body and "因果の証明ではありません" in body  # caveat, in Japanese
    items = r.context["items"]
    assert items[0].asset_id == world["masterclass"].pk and items[0].significant
    # create the playbook, then assign it in one click
    r = client.post(url("manage-patterns-playbook", tenant_a), {"action": "create"})
    assert r.status_code == 302
    with scope(tenant=tenant_a.pk):
        run = PatternRun.objects.get(pk=world["run"].pk)
        assert run.playbook is not None
    due = (timezone.localdate() + dt.timedelta(days=20)).isoformat()
    r = client.post(url("manage-patterns-assign", tenant_a), {"path_id": run.playbook_id, "due_on": due})
    assert r.status_code == 302
    client.post(url("manage-patterns-assign", tenant_a), {"path_id": run.playbook_id, "due_on": due})
    with scope(tenant=tenant_a.pk):
        n_nurture = len(partner_cohorts(tenant=tenant_a).nurture)
        assert Assignment.objects.filter(source="playbook").count() == n_nurture * 2
    r = client.get(url("manage-patterns", tenant_a))
    assert r.context["adoption_count"] == n_nurture
    # in Japanese, the column over the assignment dates says "assigned on", not the dashboards' "assigned (count)"
    assert '<th scope="col">割り当て日</th>' in r.content.decode() and "割り当て数" not in r.content.decode()


def test_page_query_count_does_not_grow(client, login, manager_a, tenant_a, world, django_assert_max_num_queries):
    login(manager_a)
    client.post(url("manage-patterns-playbook", tenant_a), {"action": "create"})
    with scope(tenant=tenant_a.pk):
        path_id = PatternRun.objects.get(pk=world["run"].pk).playbook_id
    client.post(url("manage-patterns-assign", tenant_a), {"path_id": path_id, "due_on": timezone.localdate().isoformat()})
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        client.get(url("manage-patterns", tenant_a))
    with scope(tenant=tenant_a.pk):
        more = [f.PartnerFactory(tenant=tenant_a, status="nurturing") for _ in range(15)]
    client.post(url("manage-patterns-assign", tenant_a), {"path_id": path_id, "due_on": timezone.localdate().isoformat()})
    with CaptureQueriesContext(connection) as big:
        client.get(url("manage-patterns", tenant_a))
    assert len(more) == 15
    assert len(big.captured_queries) <= len(small.captured_queries)


def test_edit_playbook_reorder_remove_add(client, login, manager_a, tenant_a, world):
    login(manager_a)
    client.post(url("manage-patterns-playbook", tenant_a), {"action": "create"})
    with scope(tenant=tenant_a.pk):
        path = PatternRun.objects.get(pk=world["run"].pk).playbook
        items = list(LearningPathItem.objects.filter(path=path).order_by("position"))
    client.post(url("manage-patterns-playbook", tenant_a), {"action": "down", "path_id": path.pk, "item_id": items[0].pk})
    with scope(tenant=tenant_a.pk):
        order = list(LearningPathItem.objects.filter(path=path).order_by("position").values_list("asset_id", flat=True))
    assert order == [world["masterclass"].pk, world["deck"].pk]
    client.post(url("manage-patterns-playbook", tenant_a), {"action": "remove", "path_id": path.pk, "item_id": items[0].pk})
    client.post(url("manage-patterns-playbook", tenant_a), {"action": "add", "path_id": path.pk, "asset_id": world["deck"].pk})
    with scope(tenant=tenant_a.pk):
        order = list(LearningPathItem.objects.filter(path=path).order_by("position").values_list("asset_id", flat=True))
    assert order == [world["masterclass"].pk, world["deck"].pk]


def test_cohort_override_and_recompute(client, login, manager_a, tenant_a, world):
    login(manager_a)
    p = world["others"][15]
    r = client.post(url("manage-patterns-cohort", tenant_a), {"partner_id": p.pk, "cohort_override": "nurture"})
    assert r.status_code == 302
    f.refresh(p)
    assert p.cohort_override == "nurture"
    client.post(url("manage-patterns-cohort", tenant_a), {"partner_id": p.pk, "cohort_override": "bogus"})
    f.refresh(p)
    assert p.cohort_override == "nurture"
    r = client.post(url("manage-patterns-run", tenant_a), {"window_days": "180", "top_share": "10", "metric": "deals"})
    assert r.status_code == 302 and "window_days=180" in r["Location"]
    with scope(tenant=tenant_a.pk):
        run = PatternRun.objects.order_by("-id").first()
    assert run.metric == "deals" and (run.window_end - run.window_start).days == 179


def test_nba_partials(client, login, manager_a, tenant_a, world, make_member):
    login(manager_a)
    client.post(url("manage-patterns-playbook", tenant_a), {"action": "create"})
    laggard = world["others"][0]
    r = client.get(url("manage-partner-nba", tenant_a, partner_id=laggard.pk), HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert r.status_code == 200 and "Deal registration masterclass" in body and "<html" not in body
    # The manager reads about the partner in the third person, not as "you".
    assert "このパートナーはまだ開始していません" in body and "あなた" not in body
    member = make_member(tenant_a, "partner_user", partner=laggard)
    login(member)
    r = client.get(url("portal-next-best-action", tenant_a), HTTP_HX_REQUEST="true")
    assert "トップパートナーの100%が初受注の前にこれを修了しています" in r.content.decode()
    assert "このパートナー" not in r.content.decode()
    assert client.get(url("portal-next-best-action", tenant_a)).status_code == 200  # full page without htmx


def test_partner_user_forbidden(client, login, partner_user_a, tenant_a, world):
    login(partner_user_a)
    assert client.get(url("manage-patterns", tenant_a)).status_code == 403
    for name in ("manage-patterns-run", "manage-patterns-cohort", "manage-patterns-playbook", "manage-patterns-assign"):
        assert client.post(url(name, tenant_a), {}).status_code == 403, name
    assert client.get(url("manage-partner-nba", tenant_a, partner_id=world["top"][0].pk)).status_code == 403


def test_tenant_b_gets_404(client, login, tenant_a, tenant_b, manager_b, world):
    with scope(tenant=tenant_a.pk):
        path = playbook_create_from_run(tenant=tenant_a, run=world["run"], actor=None)
        item = LearningPathItem.objects.filter(path=path).first()
    login(manager_b)
    assert client.get(url("manage-patterns", tenant_a)).status_code == 404
    assert client.get(url("portal-next-best-action", tenant_a)).status_code == 404
    for name in ("manage-patterns-run", "manage-patterns-cohort", "manage-patterns-playbook", "manage-patterns-assign"):
        assert client.post(url(name, tenant_a), {}).status_code == 404, name
    # A's ids through B's own tenant
    assert client.get(url("manage-partner-nba", tenant_b, partner_id=world["top"][0].pk)).status_code == 404
    assert client.post(url("manage-patterns-cohort", tenant_b), {"partner_id": world["top"][0].pk, "cohort_override": "exclude"}).status_code == 404
    assert client.post(url("manage-patterns-assign", tenant_b), {"path_id": path.pk, "due_on": "2099-01-01"}).status_code == 404
    assert client.post(url("manage-patterns-playbook", tenant_b), {"action": "remove", "path_id": path.pk, "item_id": item.pk}).status_code == 404
    with scope(tenant=tenant_a.pk):
        assert Assignment.objects.count() == 0 and LearningPathItem.objects.filter(path=path).count() == 2
    f.refresh(world["top"][0])
    assert world["top"][0].cohort_override == ""
    # B's own page shows nothing of A
    body = client.get(url("manage-patterns", tenant_b)).content.decode()
    assert "masterclass" not in body.lower() and "Top 0" not in body


def test_scope_is_required():
    from django_scopes.exceptions import ScopeError

    with pytest.raises(ScopeError):
        list(PatternRun.objects.all())


def test_membership_sanity(partner_user_a):
    with scope(tenant=partner_user_a.tenant_id):
        assert Membership.objects.filter(pk=partner_user_a.pk).exists()


def test_next_best_action_and_playbook_assignment_respect_audiences(tenant_a, world):
    """An item limited to another audience is never suggested to a partner outside it, and the
    one-click playbook assignment skips that (partner, item) pair instead of reaching outside."""
    from enablement.services.catalog import audience_set

    with scope(tenant=tenant_a.pk):
        path = playbook_create_from_run(tenant=tenant_a, run=world["run"], actor=None)
        laggard = world["others"][0]
        only_for = f.PartnerFactory(tenant=tenant_a)
        audience_set(tenant=tenant_a, actor=None, asset=world["masterclass"], partners=[only_for])
        assert [a.asset for a in next_best_actions(tenant=tenant_a, partner=laggard)] == [world["deck"]]
        created = playbook_assign(tenant=tenant_a, path=path, partners=[laggard, only_for],
                                  due_on=timezone.localdate(), actor=None)
        pairs = set(Assignment.objects.filter(tenant=tenant_a, source="playbook").values_list("partner_id", "asset_id"))
    assert (laggard.pk, world["masterclass"].pk) not in pairs
    assert {(laggard.pk, world["deck"].pk), (only_for.pk, world["masterclass"].pk)} <= pairs
    assert created == len(pairs)
