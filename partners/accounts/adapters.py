"""allauth adapters: no open sign-up (invitations and tenant SSO only), per-tenant SSO apps."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.shortcuts import render

from partners.accounts import outbound, sso


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return False  # people arrive by invitation or through their tenant's SSO

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """Setting up a second factor right after logging in (where the role requires one) does
        not ask for the password again; later, as everywhere, it does."""
        if app == "allauth.mfa" and self.request is not None and _just_logged_in(self.request):
            return False
        return super().is_reauthentication_required(app=app, **kwargs)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_requests_session(self):
        """Every request allauth makes to an IdP (OIDC discovery, token, userinfo, JWKS) goes
        through the address guard: never to a private, loopback or link-local address."""
        return outbound.guard(super().get_requests_session())

    def list_apps(self, request, provider=None, client_id=None):
        if provider is None and client_id is None:
            # Never list every tenant's IdP on the shared login page; a logged-in person sees (to link
            # from Account → Single sign-on) only the connections of tenants they belong to.
            user = getattr(request, "user", None)
            if user is None or not user.is_authenticated:
                return []
            return [sso.connection_app(c) for c in sso.connections_for_member(user)]
        return [sso.connection_app(c) for c in sso.active_connections(provider=provider, client_id=client_id)]

    def _refuse(self, request, message):
        raise ImmediateHttpResponse(render(request, "account/sso_refused.html", {"message": message}, status=403))

    def _email(self, sociallogin) -> str:
        email = (sociallogin.user.email or "") if sociallogin.user else ""
        if not email and sociallogin.email_addresses:
            email = sociallogin.email_addresses[0].email
        return email.strip().lower()

    def pre_social_login(self, request, sociallogin):
        from django.utils.translation import gettext as _

        conn = sso.connection_for_app(sociallogin.provider.app)
        email = self._email(sociallogin)
        if conn is None or not sso.email_allowed(conn, email):
            self._refuse(request, _("This identity provider may not sign in this e-mail address."))
        if sociallogin.is_existing:
            sso.sso_membership_grant(conn=conn, user=sociallogin.user, attributes=sociallogin.account.extra_data)

    def is_open_for_signup(self, request, sociallogin) -> bool:
        conn = sso.connection_for_app(sociallogin.provider.app)
        if conn is None or not conn.jit_enabled:
            return False
        email = self._email(sociallogin)
        return sso.resolve_role(conn, email=email, attributes=sociallogin.account.extra_data) is not None

    def is_auto_signup_allowed(self, request, sociallogin) -> bool:
        return True

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        name = data.get("name") or " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p)
        user.name = (name or "")[:150]
        user.email = (user.email or "").lower()
        return user

    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form)
        conn = sso.connection_for_app(sociallogin.provider.app)
        if conn is not None:
            sso.sso_membership_grant(conn=conn, user=user, attributes=sociallogin.account.extra_data)
        return user


def _just_logged_in(request) -> bool:
    import time

    from allauth.account.internal.flows.login import get_authentication_records
    from django.conf import settings

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    records = get_authentication_records(request, user)
    logins = [r for r in records if r.get("method") in ("password", "socialaccount", "password_reset")]
    return bool(logins) and time.time() - logins[-1]["at"] < settings.ACCOUNT_REAUTHENTICATION_TIMEOUT
