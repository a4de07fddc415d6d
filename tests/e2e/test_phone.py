"""Every portal page is usable on a phone: at 360 and 390 px nothing scrolls sideways (tables
become one card per row or scroll inside their own box). Screenshots: artifacts/screenshots/phone_*.png."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from django_scopes import scope

from enablement.models import AssetKind
from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page
from tests.enablement.conftest import add_version

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LONG = "パートナー向け価格体系とライセンス更新手続きの基本（2026年度下期改訂版・販売店様向け）"


@pytest.mark.parametrize("width", [360, 390])
def test_no_portal_page_scrolls_sideways_on_a_phone(live_server, tenant_a, partner_user_a, width):
    tenant, partner = tenant_a, partner_user_a.partner
    today = timezone.localdate()
    with scope(tenant=tenant.pk):
        training = f.AssetFactory(tenant=tenant, kind=AssetKind.TRAINING, title=LONG, duration_seconds=600)
        document = f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title="提案書テンプレート_" + "長い名前" * 8)
        faq = f.AssetFactory(tenant=tenant, kind=AssetKind.FAQ, title="請求書を再発行するには？",
                             body="管理画面の **契約** メニューから再発行できます。" + "https://example.com/" + "a" * 80)
        for i, asset in enumerate([training, document]):
            f.AssignmentFactory(tenant=tenant, asset=asset, partner=partner, due_on=today + dt.timedelta(days=i - 1))
        for i in range(3):
            f.DealFactory(tenant=tenant, partner=partner, customer=f"株式会社とても長い顧客名の会社{i}",
                          product="クラウド基盤とセキュリティ", amount=Decimal("123456789.00"))
    add_version(document, name="提案書テンプレート_2026.pdf")
    base = f"{live_server.url}/t/{tenant.slug}/portal"
    pages = {
        "home": "/", "catalog": "/catalog/", "faq": "/faq/", "faq_search": "/faq/?q=請求書",
        "faq_none": "/faq/?q=zzzzzz", "faq_detail": f"/faq/{faq.pk}/", "training": f"/trainings/{training.pk}/",
        "document": f"/documents/{document.pk}/", "deals": "/deals/", "deal_new": "/deals/new/",
    }
    with open_page(viewport={"width": width, "height": 844}, locale="ja-JP", is_mobile=True, has_touch=True) as (
        page, errors, _external,
    ):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", partner_user_a.user.email)
        page.fill("input[name=password]", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        wide = {}
        for name, path in pages.items():
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            if scroll_width > width:
                wide[name] = scroll_width
            page.screenshot(path=str(SHOTS / f"phone_{width}_{name}.png"), full_page=True)
        assert wide == {}, f"pages wider than {width}px: {wide}"
        assert errors == []
