"""Writes of the partners context (API keys, partners, tiers, memberships, support activities):
keyword-only ``<entity>_<action>(*, tenant, ..., actor)`` under ``@transaction.atomic``."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django_scopes import scope

from partners.audit import audit_record, summary
from partners.models import (
    MANAGER_ROLES,
    ApiKey,
    ApiKeyScope,
    Invitation,
    Membership,
    Partner,
    PartnerTier,
    Role,
    SupportActivity,
    SupportActivityKind,
    Tenant,
    User,
)
from partners.reading import reading_of

# --- API keys ---

API_KEY_PREFIX = "shien"
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


def api_key_hash(secret: str) -> str:
    """sha256 of the whole raw key (the secret has 256 bits of entropy: no slow hash needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_split(raw: str) -> tuple[str, str] | None:
    """``shien_<prefix>_<secret>`` → ``(prefix, raw)``; None when malformed."""
    parts = raw.strip().split("_")
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], raw.strip()


def api_key_matches(key: ApiKey, raw: str) -> bool:
    return hmac.compare_digest(key.hashed_key, api_key_hash(raw))


def api_key_generate() -> tuple[str, str]:
    """A fresh ``(prefix, raw_key)``; the raw key is ``shien_<prefix>_<secret>``."""
    prefix = secrets.token_hex(6)
    return prefix, f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32).replace('_', 'x')}"


@transaction.atomic
def api_key_create(
    *, tenant: Tenant, name: str, scopes: list[str], actor: User | None, trusted_source: bool = False
) -> tuple[ApiKey, str]:
    """Create a key; returns ``(key, raw_key)``. The raw key is shown once and never stored.

    ``trusted_source``: completions the key sends count toward completion KPIs (default: no)."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in ApiKeyScope.values]
    if not scopes or unknown:
        raise ValidationError({"scopes": f"Choose at least one of {', '.join(ApiKeyScope.values)}."})
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A name is required."})
    if ApiKey.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError({"name": "A key with this name already exists."})
    prefix, raw = api_key_generate()
    key = ApiKey.objects.create(
        tenant=tenant, name=name, prefix=prefix, hashed_key=api_key_hash(raw), scopes=scopes,
        created_by=actor if isinstance(actor, User) else None,
        trusted_source=trusted_source,
    )
    audit_record(tenant=tenant, actor=actor, action="api_key.created", target=key, after={"scopes": scopes})
    return key, raw


@transaction.atomic
def api_key_trust_set(*, tenant: Tenant, key: ApiKey, trusted_source: bool, actor: User | None) -> ApiKey:
    """Whether completions sent with this key from now on count (events already stored keep theirs)."""
    if key.tenant_id != tenant.pk:
        raise ValueError("Key of another tenant")
    if key.trusted_source != trusted_source:
        key.trusted_source = trusted_source
        key.save(update_fields=["trusted_source"])
        audit_record(tenant=tenant, actor=actor, action="api_key.trust_changed", target=key,
                     before={"trusted_source": not trusted_source}, after={"trusted_source": trusted_source})
    return key


@transaction.atomic
def api_key_revoke(*, tenant: Tenant, key: ApiKey, actor: User | None) -> ApiKey:
    if key.tenant_id != tenant.pk:
        raise ValueError("Key of another tenant")
    if key.revoked_at is None:  # revocation is final: nothing ever clears revoked_at
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(tenant=tenant, actor=actor, action="api_key.revoked", target=key)
    return key


def api_key_touch(*, key: ApiKey) -> None:
    """Record the last use at most once a minute per key (no write per request)."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < API_KEY_TOUCH_INTERVAL:
        return
    ApiKey.objects.filter(tenant_id=key.tenant_id, pk=key.pk).update(last_used_at=now)
    key.last_used_at = now


# --- Partners by external id (API, CSV import) ---
@transaction.atomic
def partner_upsert(
    *, tenant: Tenant, external_id: str, actor: User | None = None, **fields
) -> tuple[Partner, bool]:
    """Create or update the partner with this external id. ``fields``: name, tier, segment, region,
    status, joined_on. Returns ``(partner, created)``."""
    if not external_id:
        raise ValidationError({"external_id": "An external id is required."})
    partner = Partner.objects.select_for_update().filter(tenant=tenant, external_id=external_id).first()
    created = partner is None
    if created:
        partner = Partner(tenant=tenant, external_id=external_id)
    before = {} if created else summary(partner, fields)
    old_name, old_kana = partner.name, partner.name_kana
    for name, value in fields.items():
        setattr(partner, name, value)
    if not partner.name_kana or (partner.name != old_name and old_kana == reading_of(old_name)):
        partner.name_kana = reading_of(partner.name)  # suggested; a reading someone edited is kept
    if partner.tier_id is not None and partner.tier.tenant_id != tenant.pk:
        raise ValidationError({"tier": "Unknown tier."})
    partner.full_clean(exclude=["tenant", "manager"], validate_constraints=False)
    if Partner.objects.filter(tenant=tenant, name=partner.name).exclude(pk=partner.pk).exists():
        raise ValidationError({"name": "Another partner has this name."})
    partner.save()
    if created or before != summary(partner, fields):
        audit_record(tenant=tenant, actor=actor, action="partner.created" if created else "partner.updated",
                     target=partner, before=before, after=summary(partner, fields))
    return partner, created


# --- Support activities, partner settings and invitations (manage area) ---

PARTNER_FIELDS = ("name", "name_kana", "external_id", "tier", "segment", "region", "status", "manager", "joined_on")


def _is_manager_of(tenant: Tenant, user: User | None) -> bool:
    return user is None or Membership.objects.filter(
        tenant=tenant, user=user, role__in=MANAGER_ROLES, is_active=True
    ).exists()


@transaction.atomic
def support_activity_log(
    *,
    tenant: Tenant,
    partner: Partner,
    actor: User | None,
    kind: str,
    occurred_on: date,
    duration_minutes: int = 0,
    participants: str = "",
    notes: str = "",
) -> SupportActivity:
    """Record what a channel manager did for a partner (meeting, workshop, call, …)."""
    if partner.tenant_id != tenant.pk:
        raise ValidationError({"partner": "Unknown partner."})
    if kind not in SupportActivityKind.values:
        raise ValidationError({"kind": "Unknown kind of activity."})
    if duration_minutes is None or duration_minutes < 0:
        raise ValidationError({"duration_minutes": "The duration cannot be negative."})
    if occurred_on > timezone.localdate() + timedelta(days=366):
        raise ValidationError({"occurred_on": "The date is too far in the future."})
    activity = SupportActivity(
        tenant=tenant, partner=partner, manager=actor, kind=kind, occurred_on=occurred_on,
        duration_minutes=duration_minutes, participants=participants.strip()[:500], notes=notes.strip(),
    )
    activity.save(force_insert=True)
    return activity


def _partner_check(*, tenant: Tenant, partner: Partner) -> None:
    if partner.tier_id is not None and partner.tier.tenant_id != tenant.pk:
        raise ValidationError({"tier": "Unknown tier."})
    if partner.manager_id is not None and not _is_manager_of(tenant, partner.manager):
        raise ValidationError({"manager": "Choose a channel manager of this tenant."})
    partner.full_clean(exclude=["tenant", "tier", "manager"], validate_constraints=False)
    if Partner.objects.filter(tenant=tenant, name=partner.name).exclude(pk=partner.pk).exists():
        raise ValidationError({"name": "Another partner has this name."})
    if partner.external_id and Partner.objects.filter(
        tenant=tenant, external_id=partner.external_id
    ).exclude(pk=partner.pk).exists():
        raise ValidationError({"external_id": "Another partner has this external id."})


@transaction.atomic
def partner_create(*, tenant: Tenant, actor: User | None, name: str, **fields) -> Partner:
    """Create a partner company. ``fields``: external_id, tier, segment, region, status, manager, joined_on."""
    unknown = set(fields) - set(PARTNER_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    partner = Partner(tenant=tenant, name=name.strip(), **{k: v for k, v in fields.items() if v is not None})
    partner.external_id = (partner.external_id or "").strip()
    partner.name_kana = (partner.name_kana or "").strip() or reading_of(partner.name)
    _partner_check(tenant=tenant, partner=partner)
    partner.save(force_insert=True)
    audit_record(tenant=tenant, actor=actor, action="partner.created", target=partner,
                 after=summary(partner, PARTNER_FIELDS))
    return partner


@transaction.atomic
def partner_update(*, tenant: Tenant, actor: User | None, partner: Partner, **fields) -> Partner:
    if partner.tenant_id != tenant.pk:
        raise ValidationError("Unknown partner.")
    unknown = set(fields) - set(PARTNER_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    before = summary(partner, PARTNER_FIELDS)
    old_name, old_kana = partner.name, partner.name_kana
    for name, value in fields.items():
        setattr(partner, name, value.strip() if isinstance(value, str) else value)
    renamed_with_suggestion = (
        partner.name != old_name and partner.name_kana == old_kana and old_kana in ("", reading_of(old_name))
    )
    if not partner.name_kana or renamed_with_suggestion:
        partner.name_kana = reading_of(partner.name)  # suggested again on a rename; an edited reading is kept
    _partner_check(tenant=tenant, partner=partner)
    partner.save()
    after = summary(partner, PARTNER_FIELDS)
    if after != before:
        audit_record(tenant=tenant, actor=actor, action="partner.updated", target=partner, before=before, after=after)
    return partner


@transaction.atomic
def tier_create(*, tenant: Tenant, actor: User | None, name: str, rank: int) -> PartnerTier:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A name is required."})
    if PartnerTier.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError({"name": "A tier with this name already exists."})
    tier = PartnerTier.objects.create(tenant=tenant, name=name, rank=rank)
    audit_record(tenant=tenant, actor=actor, action="tier.created", target=tier, after={"name": name, "rank": rank})
    return tier


# --- Memberships and invitations ---
# People are global; a membership ties a person to one tenant. Tenant admins manage memberships only:
# invite, change role/partner, suspend, remove. Nothing here touches a person's password, e-mail,
# active flag, MFA or staff bits.

def _actor_may_administer(tenant: Tenant, actor: User | None) -> bool:
    """The system (None), the platform operator, or an active tenant admin of this tenant."""
    if actor is None or getattr(actor, "is_superuser", False):
        return True
    return Membership.objects.filter(tenant=tenant, user=actor, role=Role.TENANT_ADMIN, is_active=True).exists()


def _require_admin(tenant: Tenant, actor: User | None) -> None:
    if not _actor_may_administer(tenant, actor):
        raise ValidationError("Only tenant admins can manage memberships.")


def _role_partner(*, tenant: Tenant, role: str, partner: Partner | None) -> Partner | None:
    if role not in Role.values:
        raise ValidationError({"role": "Unknown role."})
    if role != Role.PARTNER_USER:
        return None
    if partner is None:
        raise ValidationError({"partner": "A partner user must belong to a partner."})
    if partner.tenant_id != tenant.pk:
        raise ValidationError({"partner": "Unknown partner."})
    return partner


def tenant_mfa_policy_set(
    *, tenant: Tenant, actor: User | None, mfa_required_channel_managers: bool, mfa_required_partner_users: bool
) -> Tenant:
    """Whether channel managers and partner users need a second factor (tenant admins always do)."""
    _require_tenant_admin(tenant, actor)
    before = summary(tenant, ["mfa_required_channel_managers", "mfa_required_partner_users"])
    tenant.mfa_required_channel_managers = bool(mfa_required_channel_managers)
    tenant.mfa_required_partner_users = bool(mfa_required_partner_users)
    tenant.save(update_fields=["mfa_required_channel_managers", "mfa_required_partner_users"])
    after = summary(tenant, ["mfa_required_channel_managers", "mfa_required_partner_users"])
    if after != before:
        audit_record(tenant=tenant, actor=actor, action="mfa_policy.changed", target=tenant, before=before, after=after)
    return tenant


# --- Invitations ---
# A tenant admin invites an address; the e-mailed link carries a random token (only its hash is
# stored) signed with the site's key. The link is single-use and expires; the membership exists
# only once the invited person accepts it.

INVITATION_SALT = "shien.invitation"


def _require_tenant_admin(tenant: Tenant, actor: User | None) -> None:
    if actor is not None and not Membership.objects.filter(
        tenant=tenant, user=actor, role=Role.TENANT_ADMIN, is_active=True
    ).exists():
        raise ValidationError("Only tenant admins can invite users.")


def invitation_token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def invitation_key_unsign(key: str) -> str | None:
    """The raw token of a link key, or None when the signature does not match."""
    try:
        return signing.Signer(salt=INVITATION_SALT).unsign(key)
    except signing.BadSignature:
        return None


def invitation_link(raw: str) -> str:
    key = signing.Signer(salt=INVITATION_SALT).sign(raw)
    return settings.SITE_URL.rstrip("/") + reverse("invitation-accept", kwargs={"key": key})


def _invitation_issue(invitation: Invitation) -> str:
    raw = secrets.token_urlsafe(32)
    invitation.token_hash = invitation_token_hash(raw)
    invitation.expires_at = timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS)
    return raw


def _invitation_mail(invitation: Invitation, raw: str, actor: User | None) -> None:
    tenant = invitation.tenant
    context = {
        "invitation": invitation, "tenant": tenant, "link": invitation_link(raw),
        "inviter": actor.get_full_name() if actor else "", "role": invitation.get_role_display,
        "days": settings.INVITATION_MAX_AGE_DAYS,
    }
    with translation.override(tenant.default_language):
        subject = render_to_string("account/email/invitation_subject.txt", context).strip()
        body = render_to_string("account/email/invitation_message.txt", context)
    transaction.on_commit(lambda: send_mail(subject, body, None, [invitation.email]))


def _invitation_check_target(*, tenant: Tenant, role: str, partner: Partner | None) -> Partner | None:
    if role not in Role.values:
        raise ValidationError({"role": "Unknown role."})
    if role == Role.PARTNER_USER and partner is None:
        raise ValidationError({"partner": "A partner user must belong to a partner."})
    if role != Role.PARTNER_USER:
        return None
    if partner.tenant_id != tenant.pk:
        raise ValidationError({"partner": "Unknown partner."})
    return partner


@transaction.atomic
def invitation_create(
    *, tenant: Tenant, actor: User | None, email: str, role: str, partner: Partner | None = None, name: str = ""
) -> Invitation:
    """Invite an address to the tenant and e-mail the link. The answer is the same whether or not the
    address belongs to a person already (only this tenant's own members are reported)."""
    _require_tenant_admin(tenant, actor)
    partner = _invitation_check_target(tenant=tenant, role=role, partner=partner)
    email = User.objects.normalize_email(email.strip()).lower()
    if not email or "@" not in email:
        raise ValidationError({"email": "Enter a valid email address."})
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email, is_active=True).exists():
        raise ValidationError({"email": "This person is already a member of this tenant."})
    pending = Invitation.objects.select_for_update().filter(
        tenant=tenant, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).first()
    if pending is not None:  # an expired or outstanding invitation is replaced by this one
        pending.revoked_at = timezone.now()
        pending.save(update_fields=["revoked_at"])
        audit_record(tenant=tenant, actor=actor, action="invitation.replaced", target=pending)
    invitation = Invitation(tenant=tenant, email=email, role=role, partner=partner, name=name.strip()[:150],
                            invited_by=actor)
    raw = _invitation_issue(invitation)
    invitation.save(force_insert=True)
    audit_record(tenant=tenant, actor=actor, action="invitation.created", target=invitation,
                 after={"email": email, "role": role, "partner": partner})
    _invitation_mail(invitation, raw, actor)
    return invitation


@transaction.atomic
def invitation_resend(*, tenant: Tenant, invitation: Invitation, actor: User | None) -> Invitation:
    """A new link (the old one stops working) with a fresh expiry, e-mailed again."""
    _require_tenant_admin(tenant, actor)
    if invitation.tenant_id != tenant.pk:
        raise ValidationError("Unknown invitation.")
    if invitation.accepted_at or invitation.revoked_at:
        raise ValidationError("This invitation is no longer pending.")
    raw = _invitation_issue(invitation)
    invitation.save(update_fields=["token_hash", "expires_at"])
    audit_record(tenant=tenant, actor=actor, action="invitation.resent", target=invitation)
    _invitation_mail(invitation, raw, actor)
    return invitation


@transaction.atomic
def invitation_revoke(*, tenant: Tenant, invitation: Invitation, actor: User | None) -> Invitation:
    _require_tenant_admin(tenant, actor)
    if invitation.tenant_id != tenant.pk:
        raise ValidationError("Unknown invitation.")
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(tenant=tenant, actor=actor, action="invitation.revoked", target=invitation)
    return invitation


@transaction.atomic
def invitation_accept(
    *, invitation: Invitation, user: User | None = None, name: str = "", password: str | None = None
) -> tuple[User, Membership]:
    """Turn a pending invitation into an active membership.

    ``user``: the logged-in person accepting: their account's address must be the invited one (a
    different or merely added, unverified address is refused). Without it a new person is created
    with ``password``. Either way the invited address becomes verified: they hold the link.
    """
    with scope(tenant=invitation.tenant_id):
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not invitation.is_pending:
            raise ValidationError("This invitation is no longer valid.")
        if user is None:
            if User.objects.filter(email__iexact=invitation.email).exists():
                raise ValidationError("An account with this address exists: log in to accept.")
            if not password:
                raise ValidationError({"password1": "Choose a password."})
            user = User(email=invitation.email, name=(name or invitation.name).strip()[:150])
            user.set_password(password)
            user.save()
        elif user.email.lower() != invitation.email:
            raise ValidationError("This invitation was sent to another address.")
        _invited_address_verified(user, invitation.email)
        membership = Membership.objects.filter(tenant=invitation.tenant, user=user).first()
        if membership is None:
            membership = Membership.objects.create(
                tenant=invitation.tenant, user=user, role=invitation.role, partner=invitation.partner
            )
        else:
            membership.role, membership.partner, membership.is_active = invitation.role, invitation.partner, True
            membership.save(update_fields=["role", "partner", "is_active"])
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        audit_record(tenant=invitation.tenant, actor=user, action="invitation.accepted", target=invitation,
                     after={"role": membership.role, "partner": membership.partner})
        return user, membership


def _invited_address_verified(user: User, email: str) -> None:
    """Following the e-mailed link proves control of the invited address: it becomes the person's
    verified (and, without another, primary) address; anyone else's unverified claim on it ends."""
    from allauth.account.models import EmailAddress

    EmailAddress.objects.filter(email__iexact=email, verified=False).exclude(user=user).delete()
    address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    has_primary = EmailAddress.objects.filter(user=user, primary=True).exclude(email__iexact=email).exists()
    if address is None:
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=not has_primary)
    elif not address.verified or (not address.primary and not has_primary):
        address.verified = True
        address.primary = address.primary or not has_primary
        address.save(update_fields=["verified", "primary"])


def _other_active_admins(tenant: Tenant, membership: Membership) -> bool:
    return Membership.objects.filter(tenant=tenant, role=Role.TENANT_ADMIN, is_active=True).exclude(pk=membership.pk).exists()


def _guard_last_admin(tenant: Tenant, membership: Membership) -> None:
    if membership.role == Role.TENANT_ADMIN and membership.is_active and not _other_active_admins(tenant, membership):
        raise ValidationError("The tenant needs at least one active tenant admin.")


def _locked_membership(tenant: Tenant, membership: Membership) -> Membership:
    if membership.tenant_id != tenant.pk:
        raise ValidationError("Unknown membership.")
    return (
        Membership.objects.select_for_update(of=("self",)).select_related("user", "partner")
        .get(tenant=tenant, pk=membership.pk)
    )


@transaction.atomic
def membership_update(
    *, tenant: Tenant, membership: Membership, role: str, partner: Partner | None = None, actor: User | None
) -> Membership:
    """Change a member's role (and partner, for partner users)."""
    _require_admin(tenant, actor)
    membership = _locked_membership(tenant, membership)
    partner = _role_partner(tenant=tenant, role=role, partner=partner)
    if role != Role.TENANT_ADMIN:
        _guard_last_admin(tenant, membership)
    before = summary(membership, ["role", "partner"])
    membership.role, membership.partner = role, partner
    membership.save(update_fields=["role", "partner"])
    after = summary(membership, ["role", "partner"])
    if after != before:
        audit_record(tenant=tenant, actor=actor, action="membership.role_changed", target=membership,
                     target_label=membership.user.email, before=before, after=after)
    return membership


@transaction.atomic
def membership_set_active(*, tenant: Tenant, membership: Membership, is_active: bool, actor: User | None) -> Membership:
    """Suspend (``is_active=False``) or reactivate a membership. The person's account is untouched."""
    _require_admin(tenant, actor)
    membership = _locked_membership(tenant, membership)
    if membership.is_active == is_active:
        return membership
    if not is_active:
        _guard_last_admin(tenant, membership)
    membership.is_active = is_active
    membership.save(update_fields=["is_active"])
    audit_record(tenant=tenant, actor=actor, action="membership.reactivated" if is_active else "membership.suspended",
                 target=membership, target_label=membership.user.email,
                 before={"is_active": not is_active}, after={"is_active": is_active})
    return membership


@transaction.atomic
def membership_remove(*, tenant: Tenant, membership: Membership, actor: User | None) -> None:
    """End a person's access to this tenant (their account and other memberships stay)."""
    _require_admin(tenant, actor)
    membership = _locked_membership(tenant, membership)
    _guard_last_admin(tenant, membership)
    audit_record(tenant=tenant, actor=actor, action="membership.removed", target=membership,
                 target_label=membership.user.email, before=summary(membership, ["role", "partner", "is_active"]))
    membership.delete()
