"""Passkey (WebAuthn) sign-in in a real browser: Chromium's virtual authenticator (DevTools protocol
``WebAuthn.addVirtualAuthenticator``) stands in for a phone or security key. A channel manager
enrolls a passkey, logs out, and logs in with the passkey alone — no e-mail, no password."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_enroll_a_passkey_sign_out_and_sign_in_with_it(live_server, settings, manager_a):
    from allauth.mfa.models import Authenticator

    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # http://localhost: the live server has no TLS
    base = live_server.url.replace("127.0.0.1", "localhost")  # a WebAuthn relying party is a domain, not an IP
    with open_page(locale="en-US") as (page, errors, _external):
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
            "isUserVerified": True, "automaticPresenceSimulation": True,
        }})["authenticatorId"]
        page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
        page.goto(f"{base}/accounts/login/")
        page.fill("input[name=login]", manager_a.user.email)
        page.fill("input[name=password]", f.PASSWORD)
        page.click("form#login_form button[type=submit], form button.btn-primary")
        page.wait_for_url(f"{base}/t/acme/manage/**")

        page.goto(f"{base}/accounts/2fa/webauthn/add/?passwordless")
        page.fill("input[name=name]", "Laptop passkey")
        passwordless = page.locator("input[name=passwordless]")
        if not passwordless.is_checked():
            passwordless.check()
        page.screenshot(path=str(SHOTS / "accounts_passkey_add_en_desktop.png"), full_page=True)
        page.click("#mfa_webauthn_add")
        page.wait_for_url(lambda url: "/webauthn/add/" not in url)
        credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
        assert len(credentials) == 1 and credentials[0]["isResidentCredential"]
        with scopes_disabled():
            assert Authenticator.objects.filter(user=manager_a.user, type="webauthn").count() == 1

        page.goto(f"{base}/accounts/logout/")
        page.click("main form[method=post] button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "sessionid" not in {c["name"] for c in page.context.cookies()}
        assert page.goto(f"{base}/t/acme/manage/").url.startswith(f"{base}/accounts/login/")  # signed out
        page.click("#passkey_login")
        page.wait_for_url(f"{base}/t/acme/manage/**")
        assert page.locator("nav.sidebar").count() == 1
        credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
        assert credentials[0]["signCount"] >= 1  # the authenticator really signed the login
        assert errors == []
