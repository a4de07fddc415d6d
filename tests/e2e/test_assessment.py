"""Browser test: a partner user takes a timed assessment and passes it (Playwright + Debian Chromium).

The page shows the timer and the answered count; the answers are sent by the form, graded on the
server, and the result page shows the score and the correct answers (revealed after a pass). The
taking page's source holds no correct answer. Screenshots: artifacts/screenshots/assessment_*.png.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import scope

from enablement.assessments.models import Attempt
from enablement.models import ActivityEvent, Verb
from tests import factories as f
from tests.assessments.conftest import SECRET_ANSWER, make_assessment
from tests.e2e.conftest import SHOTS, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_partner_user_takes_and_passes_an_assessment(live_server, tenant_a, partner_user_a):
    b = make_assessment(tenant_a, time_limit_minutes=10, pass_mark=75)
    with scope(tenant=tenant_a.pk):
        f.AssignmentFactory(tenant=tenant_a, asset=b.asset, partner=partner_user_a.partner,
                            due_on=timezone.localdate() + dt.timedelta(days=7))
    base = f"{live_server.url}/t/{tenant_a.slug}/portal"
    with open_page(locale="ja-JP", viewport={"width": 390, "height": 844}) as (page, errors, external):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", partner_user_a.user.email)
        page.fill("input[name=password]", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.click(f"a[href='/t/{tenant_a.slug}/portal/assessments/{b.asset.pk}/']")  # from the assignments
        page.click("form[action$='/start/'] button")
        page.wait_for_url("**/attempts/*/")
        html = page.content()
        assert SECRET_ANSWER not in html and "is_correct" not in html
        clock = page.locator("[data-clock]")
        assert clock.inner_text().startswith(("9:", "10:"))  # the server's deadline, counting down
        assert page.locator("[data-answered]").inner_text() == "0"
        page.check(f"input[name='q-{b.single.pk}'][value='{b.single_right.pk}']")
        for choice in b.multi_right:
            page.check(f"input[name='q-{b.multi.pk}'][value='{choice.pk}']")
        page.check(f"input[name='q-{b.tf.pk}'][value='true']")
        page.fill(f"input[name='q-{b.short.pk}']", "ＫＵＭＱＵＡＴ－４７")  # full-width: normalised on the server
        assert page.locator("[data-answered]").inner_text() == "4"
        page.screenshot(path=str(SHOTS / "assessment_take.png"), full_page=True)
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#assessment-form button[type=submit]")
        page.wait_for_url("**/result/")
        page.screenshot(path=str(SHOTS / "assessment_result.png"), full_page=True)
        text = page.locator("main").inner_text()
        assert "100%" in text and "合格" in text
        assert not errors, errors
        assert not external, external
    with scope(tenant=tenant_a.pk):
        attempt = Attempt.objects.get(user=partner_user_a.user, asset=b.asset)
        assert (attempt.passed, attempt.score) == (True, 1.0)
        assert ActivityEvent.objects.filter(verb=Verb.ASSESSMENT_PASSED, user=partner_user_a.user).count() == 1
