"""Writes of the certifications context: certifications, automatic issuing, revocation, reminders.

Issuing is set-based per tenant and certification: one aggregate over the completion events of the
required assets (``enablement.completion.completion_q``: whatever counts as completion there counts
here, whatever the asset kind), counted from each person's counting start (models.py docstring).
It is idempotent (a person whose certificate is current has no completions after its counting start
until the renewal window opens) and safe when run concurrently: the next certificate of a chain has
a fixed number, unique per ``(tenant, certification, holder, sequence)``, so one insert wins.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Min, OuterRef, Q, Subquery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from enablement.certifications.models import (
    Certificate,
    CertificateReminder,
    Certification,
    CertificationRequirement,
    TierCertificationRequirement,
    valid_q,
)
from enablement.completion import COMPLETION_VERBS, completion_q
from enablement.models import ActivityEvent, Asset
from partners.audit import audit_record, summary
from partners.models import Membership, PartnerTier, Role, Tenant, User

log = logging.getLogger(__name__)

REMINDER_DAYS = (30, 7)
CERTIFICATION_FIELDS = ("name", "description", "validity_months", "renewal_window_days", "is_active")


def add_months(at: dt.datetime, months: int) -> dt.datetime:
    """``at`` plus calendar months (the day clamped to the month's length: 31 Jan + 1 = 28/29 Feb)."""
    month_index = at.month - 1 + months
    year, month = at.year + month_index // 12, month_index % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))


def certificate_dates(
    *, certification: Certification, issued_at: dt.datetime, previous: Certificate | None
) -> tuple[dt.datetime, dt.datetime]:
    """``(expires_at, renewable_from)`` of a new certificate (renewals continue from the old expiry)."""
    start = issued_at
    if previous is not None and previous.revoked_at is None and previous.expires_at > issued_at:
        start = previous.expires_at
    expires_at = add_months(start, certification.validity_months)
    renewable_from = max(expires_at - dt.timedelta(days=certification.renewal_window_days), issued_at)
    return expires_at, renewable_from


# --- Certifications -------------------------------------------------------------------------------
def _check_assets(*, tenant: Tenant, assets: Iterable[Asset]) -> list[Asset]:
    assets = list(assets)
    if not assets:
        raise ValidationError({"required_assets": _("Choose at least one required asset.")})
    for asset in assets:
        if asset.tenant_id != tenant.pk:
            raise ValidationError({"required_assets": _("Unknown asset.")})
        if asset.kind not in COMPLETION_VERBS:
            raise ValidationError({"required_assets": _("“%(title)s” has no completion rule.") % {"title": asset.title}})
    return assets


def _check_window(certification: Certification) -> None:
    if certification.renewal_window_days >= certification.validity_months * 28:
        raise ValidationError({"renewal_window_days": _("The renewal window must be shorter than the validity.")})


@transaction.atomic
def certification_create(
    *, tenant: Tenant, actor, name: str, required_assets: Iterable[Asset], description: str = "",
    validity_months: int = 24, renewal_window_days: int = 90, is_active: bool = True,
) -> Certification:
    assets = _check_assets(tenant=tenant, assets=required_assets)
    certification = Certification(
        tenant=tenant, name=name.strip(), description=description, validity_months=validity_months,
        renewal_window_days=renewal_window_days, is_active=is_active,
    )
    certification.full_clean(exclude=["tenant"], validate_unique=False)
    _check_window(certification)
    if Certification.objects.filter(tenant=tenant, name=certification.name).exists():
        raise ValidationError({"name": _("A certification with this name exists already.")})
    certification.save()
    CertificationRequirement.objects.bulk_create(
        [CertificationRequirement(tenant=tenant, certification=certification, asset=a) for a in assets]
    )
    audit_record(
        tenant=tenant, actor=actor, action="certification.created", target=certification,
        after={**summary(certification, CERTIFICATION_FIELDS), "required_assets": [a.title for a in assets]},
    )
    _evaluate_on_commit(tenant_id=tenant.pk, user_ids=None)
    return certification


@transaction.atomic
def certification_update(
    *, tenant: Tenant, actor, certification: Certification, required_assets: Iterable[Asset], **fields
) -> Certification:
    """Change a certification. Certificates already issued keep their dates; new requirements apply
    to certificates issued from now on."""
    if certification.tenant_id != tenant.pk:
        raise ValidationError(_("Unknown certification."))
    assets = _check_assets(tenant=tenant, assets=required_assets)
    before_assets = sorted(
        CertificationRequirement.objects.filter(tenant=tenant, certification=certification)
        .values_list("asset__title", flat=True)
    )
    before = {**summary(certification, CERTIFICATION_FIELDS), "required_assets": before_assets}
    for name, value in fields.items():
        if name not in CERTIFICATION_FIELDS:
            raise TypeError(f"Unknown field {name}")
        setattr(certification, name, value.strip() if name == "name" else value)
    certification.full_clean(exclude=["tenant"], validate_unique=False)
    _check_window(certification)
    if Certification.objects.filter(tenant=tenant, name=certification.name).exclude(pk=certification.pk).exists():
        raise ValidationError({"name": _("A certification with this name exists already.")})
    certification.save()
    CertificationRequirement.objects.filter(tenant=tenant, certification=certification).exclude(
        asset__in=assets
    ).delete()
    have = set(
        CertificationRequirement.objects.filter(tenant=tenant, certification=certification).values_list(
            "asset_id", flat=True
        )
    )
    CertificationRequirement.objects.bulk_create(
        [CertificationRequirement(tenant=tenant, certification=certification, asset=a)
         for a in assets if a.pk not in have]
    )
    audit_record(
        tenant=tenant, actor=actor, action="certification.updated", target=certification, before=before,
        after={**summary(certification, CERTIFICATION_FIELDS), "required_assets": sorted(a.title for a in assets)},
    )
    _evaluate_on_commit(tenant_id=tenant.pk, user_ids=None)
    return certification


@transaction.atomic
def tier_requirement_set(
    *, tenant: Tenant, actor, tier: PartnerTier, certification: Certification, required_people: int
) -> TierCertificationRequirement | None:
    """Require ``required_people`` certified people per partner of ``tier`` (0 removes the requirement)."""
    if tier.tenant_id != tenant.pk or certification.tenant_id != tenant.pk:
        raise ValidationError(_("Unknown tier or certification."))
    if required_people < 0 or required_people > 1000:
        raise ValidationError({"required_people": _("Between 0 and 1000 people.")})
    existing = TierCertificationRequirement.objects.filter(
        tenant=tenant, tier=tier, certification=certification
    ).first()
    before = {"required_people": existing.required_people if existing else 0}
    if required_people == 0:
        if existing is not None:
            existing.delete()
        result = None
    elif existing is None:
        result = TierCertificationRequirement.objects.create(
            tenant=tenant, tier=tier, certification=certification, required_people=required_people
        )
    else:
        existing.required_people = required_people
        existing.save(update_fields=["required_people"])
        result = existing
    audit_record(
        tenant=tenant, actor=actor, action="certification.tier_requirement", target=certification,
        target_label=f"{tier} / {certification}", before=before, after={"required_people": required_people},
    )
    return result


# --- Issuing --------------------------------------------------------------------------------------
def _evaluate_on_commit(*, tenant_id: int, user_ids: list[int] | None) -> None:
    from enablement.certifications.tasks import certificates_evaluate_tenant

    transaction.on_commit(lambda: certificates_evaluate_tenant.delay(tenant_id, user_ids))


def certificates_evaluate_after_log(*, tenant_id: int, user_ids: Iterable[int | None]) -> None:
    """Called by the activity log writers for stored completion-verb events: evaluate those people
    once the log write has committed."""
    ids = sorted({u for u in user_ids if u is not None})
    if ids:
        _evaluate_on_commit(tenant_id=tenant_id, user_ids=ids)


def _met(*, tenant: Tenant, certification: Certification, required: set[int], user_ids, now) -> dict[int, dt.datetime]:
    """``{user_id: instant the last requirement was met}`` for everyone who met them all since their
    counting start (one aggregate query)."""
    last = Certificate.objects.filter(
        tenant=tenant, certification=certification, holder_id=OuterRef("user_id")
    ).order_by("-sequence")
    events = (
        ActivityEvent.objects.filter(
            completion_q(), tenant=tenant, asset_id__in=required, user__isnull=False, occurred_at__lte=now
        )
        .annotate(since=Subquery(last.values("renewable_from")[:1]))
        .filter(Q(since__isnull=True) | Q(occurred_at__gte=F("since")))
    )
    if user_ids is not None:
        events = events.filter(user_id__in=user_ids)
    firsts: dict[int, dict[int, dt.datetime]] = defaultdict(dict)
    for row in events.values("user_id", "asset_id").annotate(first=Min("occurred_at")).order_by():
        firsts[row["user_id"]][row["asset_id"]] = row["first"]
    return {user: max(done.values()) for user, done in firsts.items() if len(done) == len(required)}


def certificates_evaluate(
    *, tenant: Tenant, user_ids: Iterable[int] | None = None, now: dt.datetime | None = None
) -> list[Certificate]:
    """Issue every certificate that is due in ``tenant`` (for ``user_ids``, or everyone). Returns the
    certificates issued by this call."""
    now = now or timezone.now()
    user_ids = None if user_ids is None else sorted(set(user_ids))
    requirements: dict[int, set[int]] = defaultdict(set)
    for cert_id, asset_id in CertificationRequirement.objects.filter(
        tenant=tenant, certification__is_active=True
    ).values_list("certification_id", "asset_id"):
        requirements[cert_id].add(asset_id)
    if not requirements:
        return []
    certifications = Certification.objects.filter(tenant=tenant, pk__in=requirements).order_by("pk")
    due: list[tuple[Certification, int, dt.datetime]] = []
    for certification in certifications:
        met = _met(tenant=tenant, certification=certification, required=requirements[certification.pk],
                   user_ids=user_ids, now=now)
        due.extend((certification, user, at) for user, at in sorted(met.items()))
    if not due:
        return []
    partner_of = dict(
        Membership.objects.filter(
            tenant=tenant, role=Role.PARTNER_USER, is_active=True, user_id__in={u for _c, u, _a in due}
        ).values_list("user_id", "partner_id")
    )
    previous: dict[tuple[int, int], Certificate] = {}
    for cert in Certificate.objects.filter(
        tenant=tenant, holder_id__in=partner_of, certification_id__in={c.pk for c, _u, _a in due}
    ).order_by("sequence"):
        previous[(cert.certification_id, cert.holder_id)] = cert
    issued = []
    for certification, user_id, issued_at in due:
        partner_id = partner_of.get(user_id)
        if partner_id is None:  # only partner people hold certificates
            continue
        prev = previous.get((certification.pk, user_id))
        expires_at, renewable_from = certificate_dates(
            certification=certification, issued_at=issued_at, previous=prev
        )
        cert = Certificate(
            tenant=tenant, certification=certification, holder_id=user_id, partner_id=partner_id,
            sequence=(prev.sequence + 1) if prev else 1, previous=prev, issued_at=issued_at,
            expires_at=expires_at, renewable_from=renewable_from,
        )
        try:
            with transaction.atomic():
                cert.save(force_insert=True)
        except IntegrityError:  # a concurrent evaluation issued it first
            continue
        audit_record(
            tenant=tenant, actor=None, action="certificate.issued", target=cert,
            after={"holder": cert.holder_id, "partner": partner_id, "sequence": cert.sequence,
                   "issued_at": issued_at.isoformat(), "expires_at": expires_at.isoformat()},
        )
        issued.append(cert)
    return issued


@transaction.atomic
def certificate_revoke(*, tenant: Tenant, certificate: Certificate, reason: str, actor: User) -> Certificate:
    """Revoke with a reason. The holder earns the certification again only by completing every
    requirement after this instant."""
    if certificate.tenant_id != tenant.pk:
        raise ValidationError(_("Unknown certificate."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give a reason.")})
    locked = Certificate.objects.select_for_update().get(tenant=tenant, pk=certificate.pk)
    if locked.revoked_at is not None:
        raise ValidationError(_("This certificate is revoked already."))
    now = timezone.now()
    locked.revoked_at, locked.revoked_reason, locked.revoked_by = now, reason[:500], actor
    locked.renewable_from = now
    locked.save(update_fields=["revoked_at", "revoked_reason", "revoked_by", "renewable_from"])
    audit_record(
        tenant=tenant, actor=actor, action="certificate.revoked", target=locked,
        before={"status": "valid"}, after={"status": "revoked", "reason": locked.revoked_reason},
    )
    return locked


# --- Reminders before expiry ----------------------------------------------------------------------
def _absolute(path: str) -> str:
    from partners.notifications.services import absolute_url

    return absolute_url(path)


def _remind(*, tenant: Tenant, certificate: Certificate, days_before: int) -> None:
    holder = certificate.holder
    language = holder.language or tenant.default_language
    with translation.override(language), timezone.override(tenant.zoneinfo):
        context = {
            "tenant": tenant, "holder": holder, "certificate": certificate, "days_before": days_before,
            "certification": certificate.certification,
            "url": _absolute(reverse("portal-certificates", kwargs={"tenant_slug": tenant.slug})),
        }
        subject = _("[%(tenant)s] Your certificate “%(name)s” expires soon") % {
            "tenant": tenant.name, "name": certificate.certification.name,
        }
        text = render_to_string("certifications/reminder_email.txt", context)
        html = render_to_string("certifications/reminder_email.html", context)
    message = EmailMultiAlternatives(subject=subject.replace("\n", " ")[:200], body=text, to=[holder.email])
    message.attach_alternative(html, "text/html")
    message.send()


def certificate_reminders_send(*, tenant: Tenant, now: dt.datetime | None = None) -> int:
    """Mail each holder whose valid certificate expires within 30 or 7 days (and is not renewed yet),
    once per stage. A certificate first seen inside 7 days gets only the 7-day mail (both stages are
    recorded). The row is written in the transaction that sends, so a failed send is retried."""
    now = now or timezone.now()
    horizon = now + dt.timedelta(days=max(REMINDER_DAYS))
    candidates = (
        Certificate.objects.filter(valid_q(now), tenant=tenant, expires_at__lte=horizon, renewal__isnull=True)
        .select_related("holder", "certification")
        .order_by("expires_at", "pk")
    )
    sent_stages: dict[int, set[int]] = defaultdict(set)
    for cert_id, days in CertificateReminder.objects.filter(
        tenant=tenant, certificate__in=candidates
    ).values_list("certificate_id", "days_before"):
        sent_stages[cert_id].add(days)
    sent = 0
    for certificate in candidates:
        left = certificate.expires_at - now
        stages = [d for d in REMINDER_DAYS if left <= dt.timedelta(days=d)]  # e.g. [30, 7] at 5 days left
        stage = min(stages)
        if stage in sent_stages[certificate.pk]:
            continue
        try:
            with transaction.atomic():
                CertificateReminder.objects.bulk_create(
                    [CertificateReminder(tenant=tenant, certificate=certificate, days_before=d, sent_at=now)
                     for d in stages if d not in sent_stages[certificate.pk]]
                )
                _remind(tenant=tenant, certificate=certificate, days_before=stage)
        except IntegrityError:  # another run recorded it first
            continue
        except Exception:
            log.exception("certificate reminder failed", extra={"certificate": certificate.pk})
            continue
        sent += 1
    return sent
