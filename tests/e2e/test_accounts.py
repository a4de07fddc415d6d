"""Browser tests of accounts: an invited person opens the e-mailed link and sets a password; a tenant
admin enrolls an authenticator app (the code computed here with pyotp); both land where they should.
Screenshots of the login, password reset and two-factor pages in Japanese and English at desktop
and phone (390 px) width: artifacts/screenshots/accounts_*.png."""

from __future__ import annotations

import re

import pyotp
import pytest
from django.core import mail
from django_scopes import scope

from partners import services
from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1360, "height": 900}, "phone": {"width": 390, "height": 844}}


def _no_horizontal_scroll(page) -> bool:
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 12).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    ok = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    if not ok:
        print("too wide:", wide)
    return ok


def test_invited_partner_user_sets_a_password_and_lands_in_the_portal(live_server, settings, tenant_a, admin_a):
    settings.SITE_URL = live_server.url
    with scope(tenant=tenant_a.pk):
        partner = f.PartnerFactory(tenant=tenant_a)
        services.invitation_create(tenant=tenant_a, actor=admin_a.user, email="hanako@partner.example",
                                   role="partner_user", partner=partner)
    link = re.search(r"http://\S+/accounts/invitation/\S+/", mail.outbox[-1].body).group(0)
    with open_page(locale="ja-JP") as (page, errors, external):
        page.goto(link)
        assert page.input_value("#invited_email") == "hanako@partner.example"
        page.screenshot(path=str(SHOTS / "accounts_invitation_ja_desktop.png"), full_page=True)
        page.fill("input[name=name]", "山田 花子")
        page.fill("input[name=password1]", "sakura-no-hana-2026")
        page.fill("input[name=password2]", "sakura-no-hana-2026")
        page.click("form button.btn-primary")
        page.wait_for_url(f"{live_server.url}/t/acme/portal/**")
        assert errors == [] and external == []


@pytest.mark.mfa
def test_tenant_admin_enrolls_totp_and_lands_in_the_manage_area(live_server, admin_a):
    with open_page(locale="en-US") as (page, errors, _external):
        page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", admin_a.user.email)
        page.fill("input[name=password]", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/accounts/2fa/totp/activate/**")
        secret = page.input_value("#authenticator_secret")
        page.screenshot(path=str(SHOTS / "accounts_mfa_enrol_en_desktop.png"), full_page=True)
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.click("form button.btn-primary")
        page.wait_for_url("**/accounts/2fa/recovery-codes/**")
        page.screenshot(path=str(SHOTS / "accounts_mfa_recovery_en_desktop.png"), full_page=True)
        page.click("#mfa-continue")
        page.wait_for_url(f"{live_server.url}/t/acme/manage/**")
        assert page.locator("nav.sidebar").count() == 1
        assert errors == []


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("size", list(SIZES))
def test_account_pages_look_right(live_server, lang, size, manager_a):
    shots = []
    with open_page(locale="ja-JP" if lang == "ja" else "en-US", viewport=SIZES[size]) as (page, errors, external):
        page.context.add_cookies([{"name": "django_language", "value": lang, "url": live_server.url}])
        for name, path in (("login", "/accounts/login/"), ("reset", "/accounts/password/reset/"),
                           ("sso", "/accounts/sso/")):
            page.goto(f"{live_server.url}{path}")
            assert page.locator("html").get_attribute("lang") == lang
            assert _no_horizontal_scroll(page), (name, lang, size)
            shot = SHOTS / f"accounts_{name}_{lang}_{size}.png"
            page.screenshot(path=str(shot), full_page=True)
            shots.append(shot)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", manager_a.user.email)
        page.fill("input[name=password]", "wrong-password")
        page.click("button[type=submit]")
        page.wait_for_selector(".notice-error")
        page.screenshot(path=str(SHOTS / f"accounts_login_error_{lang}_{size}.png"), full_page=True)
        page.goto(f"{live_server.url}/accounts/password/reset/")
        page.fill("input[name=email]", manager_a.user.email)
        page.click("form button.btn-primary")
        page.wait_for_url("**/accounts/password/reset/done/")
        page.screenshot(path=str(SHOTS / f"accounts_reset_done_{lang}_{size}.png"), full_page=True)
        # the second-factor pages of a logged-in person
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", manager_a.user.email)
        page.fill("input[name=password]", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/t/acme/manage/**")
        page.context.add_cookies([{"name": "django_language", "value": lang, "url": live_server.url}])
        for name, path in (("mfa_index", "/accounts/2fa/"), ("mfa_enrol", "/accounts/2fa/totp/activate/"),
                           ("email", "/accounts/email/")):
            page.goto(f"{live_server.url}{path}")
            assert _no_horizontal_scroll(page), (name, lang, size)
            page.screenshot(path=str(SHOTS / f"accounts_{name}_{lang}_{size}.png"), full_page=True)
        assert errors == [] and external == []


@pytest.mark.parametrize("size", list(SIZES))
def test_manage_invitations_and_security_pages(live_server, settings, size, admin_a):
    settings.SITE_URL = live_server.url
    with open_page(locale="ja-JP", viewport=SIZES[size]) as (page, errors, external):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", admin_a.user.email)
        page.fill("input[name=password]", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/t/acme/manage/**")
        page.goto(f"{live_server.url}/t/acme/manage/settings/invite/")
        page.fill("input[name=email]", "new.manager@example.com")
        page.select_option("select[name=role]", "channel_manager")
        page.click("form.card button.btn-primary")
        page.wait_for_selector("td:has-text('new.manager@example.com')")
        assert "new.manager@example.com" in mail.outbox[-1].to
        assert _no_horizontal_scroll(page)
        page.screenshot(path=str(SHOTS / f"accounts_manage_invitations_ja_{size}.png"), full_page=True)
        page.goto(f"{live_server.url}/t/acme/manage/settings/security/")
        page.click("#sso-oidc summary")
        assert _no_horizontal_scroll(page)
        page.screenshot(path=str(SHOTS / f"accounts_manage_security_ja_{size}.png"), full_page=True)
        assert errors == [] and external == []
