"""What kpis tells people (through ``partners.notifications``): the weekly digest for channel
managers, read from the rollups (``KpiResult``, ``FaqSearchFact``), never from the raw log.

Idempotent per (manager, ISO week): the dedupe key names the week, so a retried or repeated run
adds nothing. A fixed number of queries per tenant, whatever the number of partners or managers."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from enablement.models import FaqQuestion, FaqQuestionStatus
from kpis.models import FaqSearchFact, KpiDefinition, KpiResult, KpiStatus
from partners.models import MANAGER_ROLES, Membership, Tenant
from partners.notifications.models import NotificationKind
from partners.notifications.services import Notice, notify_many

ATTENTION = (KpiStatus.OFF_TRACK, KpiStatus.AT_RISK)


def iso_week(day: dt.date) -> str:
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def _fmt(value, is_rate: bool) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}%" if is_rate else f"{value:,.1f}".rstrip("0").rstrip(".")


def weekly_digest_data(*, tenant: Tenant, today: dt.date) -> dict:
    """The digest's numbers, from the rollups. 4 queries."""
    definitions = {d.pk: d for d in KpiDefinition.objects.filter(tenant=tenant, is_active=True)}
    current = {}  # definition → latest overall result whose period has started
    attention: dict[int, dict] = {}
    for r in (
        KpiResult.objects.filter(tenant=tenant, definition_id__in=list(definitions), period_start__lte=today,
                                 period_end__gte=today)
        .select_related("partner")
        .order_by("definition_id", "partner_id")
    ):
        if r.partner_id is None:
            current[r.definition_id] = r
        elif r.status in ATTENTION:
            row = attention.setdefault(r.partner_id, {"partner": r.partner, "off": 0, "risk": 0})
            row["off" if r.status == KpiStatus.OFF_TRACK else "risk"] += 1
    week_ago = today - dt.timedelta(days=7)
    gaps = list(
        FaqSearchFact.objects.filter(tenant=tenant, day__gt=week_ago, day__lte=today)
        .filter(Q(zero_result_searches__gt=0) | Q(unresolved_searches__gt=0))
        .values("query")
        .annotate(unresolved=Sum("unresolved_searches"), zero=Sum("zero_result_searches"))
        .order_by("-unresolved", "-zero", "query")[:5]
    )
    questions = FaqQuestion.objects.filter(tenant=tenant, status=FaqQuestionStatus.OPEN).count()
    partners = sorted(attention.values(), key=lambda r: (-r["off"], -r["risk"], r["partner"].name))
    return {"definitions": definitions, "current": current, "partners": partners, "gaps": gaps,
            "open_questions": questions}


def _body(data: dict, language: str) -> str:
    lines = [_("KPIs against their targets:")]
    for pk, definition in data["definitions"].items():
        r = data["current"].get(pk)
        status = KpiStatus(r.status).label if r else KpiStatus.NO_DATA.label
        lines.append(
            "・" + _("%(name)s: %(value)s (target %(target)s) — %(status)s") % {
                "name": definition.name_for(language), "value": _fmt(r.value if r else None, definition.is_rate),
                "target": _fmt(r.target if r else definition.target, definition.is_rate), "status": status,
            }
        )
    if not data["definitions"]:
        lines.append("・" + _("No KPI targets are set yet."))
    lines.append("")
    lines.append(_("Partners needing attention:"))
    for row in data["partners"][:5]:
        lines.append("・" + _("%(partner)s: %(off)s off track, %(risk)s at risk") % {
            "partner": row["partner"].name, "off": row["off"], "risk": row["risk"]})
    if not data["partners"]:
        lines.append("・" + _("None this week."))
    lines.append("")
    lines.append(_("New FAQ gaps (searches that did not help this week):"))
    for gap in data["gaps"]:
        lines.append("・" + _("“%(query)s”: %(count)s unresolved") % {"query": gap["query"], "count": gap["unresolved"]})
    if not data["gaps"]:
        lines.append("・" + _("None this week."))
    if data["open_questions"]:
        lines.append(_("Questions from partners waiting for an answer: %(count)s") % {"count": data["open_questions"]})
    return "\n".join(lines)


def weekly_digest_notify(*, tenant: Tenant, today: dt.date | None = None) -> list[int]:
    """Send this week's digest to the tenant's channel managers and admins (once per ISO week)."""
    today = today or timezone.localdate(timezone=tenant.zoneinfo)
    managers = list(
        Membership.objects.filter(tenant=tenant, role__in=MANAGER_ROLES, is_active=True, user__is_active=True)
        .values_list("user_id", "user__language")
    )
    if not managers:
        return []
    data = weekly_digest_data(tenant=tenant, today=today)
    week = iso_week(today)
    by_language: dict[str, list[int]] = defaultdict(list)
    for user_id, language in managers:
        by_language[language or tenant.default_language].append(user_id)
    url = reverse("manage-overview", kwargs={"tenant_slug": tenant.slug})
    notices = []
    for language, user_ids in sorted(by_language.items()):
        with translation.override(language):
            notices.append(Notice(
                recipients=user_ids, kind=NotificationKind.DIGEST_WEEKLY,
                title=_("Weekly digest for %(week)s") % {"week": week}, body=_body(data, language),
                url=url, dedupe_key=f"digest.weekly:{week}",
            ))
    return notify_many(tenant=tenant, notices=notices)
