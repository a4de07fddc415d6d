"""axe-core (vendored under static/vendor/axe-core/, used only here) on the key portal and manage
pages in Japanese, seeded with factories: no critical or serious WCAG 2.1 A/AA violations.
Screenshots: artifacts/screenshots/a11y_*.png."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pprint import pformat

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from django_scopes import scope

from enablement.models import AssetKind
from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page
from tests.enablement.conftest import add_version

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = "/static/vendor/axe-core/axe.min.js"
RUN_AXE = """async () => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
  return r.violations.filter(v => v.impact === 'critical' || v.impact === 'serious').map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').replace(/\\s+/g, ' ')),
  }));
}"""


def seed(tenant, partner):
    today = timezone.localdate()
    with scope(tenant=tenant.pk):
        training = f.AssetFactory(tenant=tenant, kind=AssetKind.TRAINING, title="製品トレーニング", duration_seconds=60,
                                  category="製品")
        training.video_file.save("t.webm", ContentFile(b"\x1aE\xdf\xa3"), save=True)
        document = f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title="提案書テンプレート", category="営業")
        faq = f.AssetFactory(tenant=tenant, kind=AssetKind.FAQ, title="請求書を再発行するには？",
                             body="管理画面の **契約** メニューから再発行できます。")
        f.AssignmentFactory(tenant=tenant, asset=training, partner=partner, due_on=today + dt.timedelta(days=5))
        f.AssignmentFactory(tenant=tenant, asset=document, partner=partner, due_on=today - dt.timedelta(days=2))
        for i in range(2):
            f.DealFactory(tenant=tenant, partner=partner, customer=f"東都銀行{i}", product="クラウド",
                          amount=Decimal("1200000.00"))
    add_version(document, name="提案書.pdf")
    return training, document, faq


def login(page, base_url, membership, landing):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", membership.user.email)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(landing)


def audit(page, url, name):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.add_script_tag(url=AXE)
    page.screenshot(path=str(SHOTS / f"a11y_{name}.png"), full_page=True)
    return page.evaluate(RUN_AXE)


def test_portal_pages_have_no_serious_violations(live_server, tenant_a, partner_user_a):
    training, document, _faq = seed(tenant_a, partner_user_a.partner)
    base = f"{live_server.url}/t/{tenant_a.slug}/portal"
    pages = {
        "portal_home": "/", "portal_catalog": "/catalog/", "portal_faq_search": "/faq/?q=請求書",
        "portal_training": f"/trainings/{training.pk}/", "portal_document": f"/documents/{document.pk}/",
        "portal_deals": "/deals/",
    }
    found = {}
    with open_page(locale="ja-JP") as (page, _errors, _external):
        login(page, live_server.url, partner_user_a, f"{base}/")
        for name, path in pages.items():
            if violations := audit(page, base + path, name):
                found[name] = violations
    assert found == {}, pformat(found)


def test_manage_pages_have_no_serious_violations(live_server, tenant_a, manager_a, partner_user_a):
    seed(tenant_a, partner_user_a.partner)
    partner = partner_user_a.partner
    base = f"{live_server.url}/t/{tenant_a.slug}/manage"
    pages = {
        "manage_overview": "/", "manage_partners": "/partners/", "manage_scorecard": f"/partners/{partner.pk}/",
        "manage_content": "/content/", "manage_faq": "/faq/", "manage_assets": "/assets/",
        "manage_assignments": "/assignments/", "manage_deals": "/deals/",
    }
    found = {}
    with open_page(locale="ja-JP") as (page, _errors, _external):
        login(page, live_server.url, manager_a, f"{base}/")
        for name, path in pages.items():
            if violations := audit(page, base + path, name):
                found[name] = violations
    assert found == {}, pformat(found)
