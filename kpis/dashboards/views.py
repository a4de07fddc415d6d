"""Channel manager dashboards: thin views over kpis.dashboards.selectors.

One URL per page; an HTMX request (not a history restore) gets the page's ``#results``
fragment; ``?format=csv&table=<name>`` exports a table of the page.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from enablement.models import Verb
from enablement.selectors import manage as enablement_manage
from kpis.dashboards import selectors
from kpis.dashboards.exports import csv_response
from kpis.dashboards.filters import parse_choice, parse_filters, parse_positive_int
from partners.models import Partner, PartnerStatus
from partners.permissions import manager_required
from partners.replica import replica_reads
from partners.tenancy import get_for_tenant

PAGE_SIZE = 25


def _dashboard(view):
    """Manager-only, GET-only, and cache-safe for HTMX fragments."""
    return replica_reads(manager_required(require_GET(vary_on_headers("HX-Request")(view))))


def _state(request):
    choices = selectors.filter_choices(tenant=request.tenant)
    filters = parse_filters(
        request.GET,
        tier_ids=choices.tier_ids,
        segments=set(choices.segments),
        manager_ids=choices.manager_ids,
    )
    return choices, filters


def _wants_csv(request) -> bool:
    return request.GET.get("format") == "csv"


def _render(request, template: str, context: dict):
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        template = f"{template}#results"
    return render(request, template, context)


def _page(request, rows, filters):
    """One page of a QuerySet, read in SQL (a COUNT and one LIMIT/OFFSET SELECT); past the end: the last."""
    page_number = parse_positive_int(request.GET, "page", 1, filters.notices)
    paginator = Paginator(rows, PAGE_SIZE)
    return paginator.page(min(page_number, paginator.num_pages))


def _base_context(request, choices, filters, **extra) -> dict:
    return {
        "tenant": request.tenant,
        "choices": choices,
        "filters": filters,
        "notices": filters.notices,
        "status_choices": PartnerStatus.choices,
        "qs": filters.querystring(),
        **extra,
    }


def _chart(kind: str, labels, datasets, *, percent: bool = False, **options) -> dict:
    return {"type": kind, "labels": list(labels), "datasets": datasets, "percent": percent, **options}


# --- overview --------------------------------------------------------------------------------------


@_dashboard
def overview(request, tenant_slug: str):
    choices, filters = _state(request)
    tenant = request.tenant
    language = get_language() or "en"
    cards = selectors.kpi_cards(tenant=tenant, end=filters.end, language=language, filters=filters)
    data = selectors.overview(tenant=tenant, filters=filters)
    if _wants_csv(request):
        table = request.GET.get("table")
        if table == "tiers":
            return csv_response(
                _("completion-by-tier"),
                [_("Tier"), pgettext("dashboard", "Assigned"), _("Completed"), _("Completion rate (%)"),
                 _("Completed by period end"), _("Completion rate by period end (%)")],
                [(t.tier or _("No tier"), t.assigned, t.completed, t.rate, t.by_period_end, t.rate_by_period_end)
                 for t in data.tier_completion],
            )
        if table == "at_risk":
            return csv_response(
                _("partners-at-risk"),
                [_("Partner"), _("Tier"), _("Overdue assignments"), _("Oldest due date"), _("Events, last 30 days"),
                 _("Events, previous 30 days"), _("Change (%)")],
                [(r.name, r.tier, r.overdue, r.oldest_due, r.recent_events, r.previous_events, r.activity_change)
                 for r in data.at_risk],
            )
        return csv_response(
            _("kpis"),
            [_("KPI"), _("Period start"), _("Value"), pgettext("dashboard", "Target"), _("Status"), _("Change vs previous period")],
            [
                (c.name, c.current.period_start if c.current else None, c.value, c.target,
                 c.current.get_status_display() if c.current else _("No data"), c.change)
                for c in cards
            ],
        )
    charts = {
        f"trend-{c.definition.pk}": _chart(
            "line", [t[0] for t in c.trend],
            [{"label": _("%(name)s (filtered)") % {"name": c.name} if c.live else c.name, "data": [t[1] for t in c.trend]},
             *([{"label": pgettext("dashboard", "Target"), "data": c.trend_targets, "target": True}]
               if any(t is not None for t in c.trend_targets) else [])],
            percent=c.is_rate, sparkline=True,
        )
        for c in cards
        if len(c.trend) > 1
    }
    charts["tier-completion"] = _chart(
        "bar",
        [t.tier or _("No tier") for t in data.tier_completion],
        [{"label": _("Completion rate (%)"), "data": [t.rate for t in data.tier_completion]}],
        percent=True,
    )
    notices = list(filters.notices)
    return _render(
        request,
        "kpis/overview.html",
        _base_context(
            request, choices, filters, cards=cards, data=data, charts=charts, notices=notices,
            rollup=selectors.rollup_state(tenant=tenant), cards_live=any(c.live for c in cards),
            checklist=None if request.htmx else selectors.first_run_checklist(tenant=tenant),
        ),
    )


# --- partners --------------------------------------------------------------------------------------

PARTNER_COLUMNS = [
    ("name", _l("Partner")),
    ("tier", _l("Tier")),
    ("status", _l("Status")),
    ("manager", _l("Channel manager")),
    ("completion", _l("Completion rate")),
    ("trainings", _l("Trainings completed")),
    ("downloads", _l("Downloads")),
    ("last_activity", _l("Last activity")),
    ("support", _l("Support activities")),
    ("certified", _l("Certified people")),
]


@_dashboard
def partners(request, tenant_slug: str):
    choices, filters = _state(request)
    tenant = request.tenant
    sort_keys = set(selectors.PARTNER_SORTS) | {f"-{k}" for k in selectors.PARTNER_SORTS}
    sort = parse_choice(request.GET, "sort", sort_keys, "name", filters.notices)
    completion_def = selectors.completion_definition(tenant=tenant, period=filters.period)
    qs = selectors.partners_table(tenant=tenant, filters=filters, sort=sort, completion_def=completion_def)
    if _wants_csv(request):
        qs = list(qs)
        selectors.attach_coverage(tenant=tenant, partners=qs)
        return csv_response(
            _("partners"),
            [_("Partner"), _("Tier"), _("Segment"), _("Status"), _("Channel manager"), _("Completion rate (%)"),
             _("Trainings completed"), _("Downloads"), _("Last activity"), _("Support activities"),
             _("Certified people"), _("Certified people missing"), _("Certificates expiring in 90 days")],
            (
                (p.name, p.tier.name if p.tier else "", p.segment, p.get_status_display(),
                 (p.manager.get_full_name() or p.manager.email) if p.manager else "",
                 p.completion_rate, p.trainings_completed, p.downloads, p.last_activity, p.support_count,
                 p.certification.certified_people, sum(g.missing for g in p.certification.gaps),
                 p.certification.expiring[90])
                for p in qs
            ),
        )
    page = _page(request, qs, filters)
    selectors.attach_coverage(tenant=tenant, partners=page.object_list)
    current_key, descending = sort.lstrip("-"), sort.startswith("-")
    columns = [
        {
            "key": key,
            "label": label,
            "qs": filters.querystring(sort=(f"-{key}" if key == current_key and not descending else key)),
            "aria_sort": ("descending" if descending else "ascending") if key == current_key else "",
            "numeric": key in {"completion", "trainings", "downloads", "support", "certified"},
        }
        for key, label in PARTNER_COLUMNS
    ]
    return _render(
        request,
        "kpis/partners.html",
        _base_context(
            request, choices, filters, page=page, columns=columns, sort=sort, completion_def=completion_def,
            page_qs=filters.querystring(sort=sort if sort != "name" else ""),
            certification=selectors.filtered_certification_summary(tenant=tenant, filters=filters),
        ),
    )


@_dashboard
def partner_detail(request, tenant_slug: str, partner_id: int):
    tenant = request.tenant
    partner = get_for_tenant(Partner.objects.select_related("tier", "manager"), tenant=tenant, pk=partner_id)
    choices, filters = _state(request)
    language = get_language() or "en"
    cards = selectors.kpi_cards(tenant=tenant, end=filters.end, language=language, partner=partner)
    data = selectors.partner_scorecard(tenant=tenant, partner=partner, filters=filters)
    if _wants_csv(request):
        table = request.GET.get("table")
        base = f"{partner.name}-"
        if table == "users":
            return csv_response(
                base + _("user-progress"),
                [_("User"), _("Asset"), _("Watched share (%)"), _("Highest progress (%)"), _("Completed"), _("Last activity")],
                [(u.user.get_full_name() or u.user.email, u.asset.title, round(100 * u.watched_share, 1), u.max_progress,
                  u.first_completed_at, u.last_activity_at) for u in data["user_progress"]],
            )
        if table == "timeline":
            return csv_response(
                base + _("activity"),
                [_("Day"), _("Activity"), _("Events"), _("Users")],
                [(t["day"], Verb(t["verb"]).label if t["verb"] in Verb.values else t["verb"], t["events"], t["users"])
                 for t in data["timeline"]],
            )
        return csv_response(
            base + _("assignments"),
            [_("Asset"), _("Due date"), _("Users who must complete"), _("Users completed"), _("Active users"), _("Done")],
            [(p.asset.title, p.due_on, p.required, p.completed_users, p.active_users, _("yes") if p.is_done else _("no"))
             for p in data["progress"]],
        )
    by_day: dict = {}
    for t in data["timeline"]:
        by_day.setdefault(t["day"], 0)
        by_day[t["day"]] += t["events"] or 0
    days = sorted(by_day)
    charts = {
        "partner-activity": _chart(
            "bar", [d.isoformat() for d in days], [{"label": _("Events"), "data": [by_day[d] for d in days]}]
        )
    }
    verb_labels = dict(Verb.choices)
    for t in data["timeline"]:
        t["verb_label"] = verb_labels.get(t["verb"], t["verb"])
    return _render(
        request,
        "kpis/partner.html",
        _base_context(request, choices, filters, partner=partner, cards=cards, data=data, charts=charts),
    )


# --- content ---------------------------------------------------------------------------------------


@_dashboard
def content(request, tenant_slug: str):
    choices, filters = _state(request)
    stale_months = parse_positive_int(request.GET, "stale_months", 6, filters.notices, maximum=120)
    data = selectors.content_usage(tenant=request.tenant, filters=filters, stale_months=stale_months)
    if _wants_csv(request):
        table = request.GET.get("table")
        rows = {"unused": data["unused"], "stale": data["stale"]}.get(table, data["rows"])
        return csv_response(
            {"unused": _("unused-content"), "stale": _("stale-content")}.get(table, _("content")),
            [_("Asset"), _("Kind"), _("Team"), _("Partners"), _("Users"), _("Views"), _("Downloads"), _("Started"),
             _("25%"), _("50%"), _("75%"), _("Completed"), _("Average watched share (%)"), _("Assigned"), _("Updated")],
            [(u.asset.title, u.asset.get_kind_display(), u.asset.team.name if u.asset.team else "", u.partners, u.users,
              u.views, u.downloads, u.started, u.p25, u.p50, u.p75, u.completed, u.avg_watched_share,
              _("yes") if u.assigned else _("no"), u.asset.updated_at.date()) for u in rows],
        )
    funnel = data["funnel"]
    funnel_labels = [_("Started"), _("25%"), _("50%"), _("75%"), _("Completed")]
    funnel_values = [funnel["started"], funnel["p25"], funnel["p50"], funnel["p75"], funnel["completed"]]
    charts = {
        "content-funnel": _chart("bar", funnel_labels, [{"label": _("Users"), "data": funnel_values}]),
    }
    return _render(
        request,
        "kpis/content.html",
        _base_context(
            request, choices, filters, data=data, charts=charts, stale_months=stale_months,
            funnel_rows=list(zip(funnel_labels, funnel_values, strict=True)),
            qs=filters.querystring(stale_months=stale_months if stale_months != 6 else ""),
        ),
    )


# --- FAQ -------------------------------------------------------------------------------------------


@_dashboard
def faq(request, tenant_slug: str):
    choices, filters = _state(request)
    data = selectors.faq_analytics(tenant=request.tenant, filters=filters)
    if _wants_csv(request):
        table = request.GET.get("table")
        if table == "tiers":
            return csv_response(
                _("faq-by-tier"),
                [_("Tier"), _("Searches"), _("Zero results"), _("Unresolved"), _("Unresolved rate (%)")],
                [(t["partner__tier__name"] or _("No tier"), t["searches"], t["zero"], t["unresolved"], t["unresolved_rate"])
                 for t in data["by_tier"]],
            )
        if table == "feedback":
            return csv_response(
                _("faq-feedback"),
                [_("FAQ"), _("Views"), _("Feedback answers"), _("“No” answers")],
                [(r["asset__title"], r["views"], r["feedback"], r["no"]) for r in data["feedback"]],
            )
        rows = {"zero": data["zero"], "gaps": data["gaps"]}.get(table, data["top"])
        return csv_response(
            {"zero": _("faq-zero-results"), "gaps": _("faq-content-gaps")}.get(table, _("faq-keywords")),
            [_("Keyword"), _("Searches"), _("Zero results"), _("Unresolved"), _("Unresolved rate (%)"), _("Partners")],
            [(k["query"], k["searches"], k["zero"], k["unresolved"], k["unresolved_rate"], k["partners"]) for k in rows],
        )
    top = data["top"][:10]
    charts = {
        "faq-top": _chart(
            "bar",
            [k["query"] for k in top],
            [
                {"label": _("Searches"), "data": [k["searches"] for k in top]},
                {"label": _("Unresolved"), "data": [k["unresolved"] for k in top]},
            ],
            horizontal=True,
        )
    }
    data["questions"] = selectors.faq_open_questions(tenant=request.tenant, filters=filters)
    data["missing"] = enablement_manage.faq_missing_comments(
        tenant=request.tenant, start=filters.start, end=filters.end, partner_q=filters.partner_q("partner__")
    )
    return _render(request, "kpis/faq.html", _base_context(request, choices, filters, data=data, charts=charts))


@_dashboard
def faq_keyword(request, tenant_slug: str):
    choices, filters = _state(request)
    keyword = (request.GET.get("keyword") or "").strip()[:300]
    tenant = request.tenant
    rows = selectors.faq_keyword_searches(tenant=tenant, filters=filters, keyword=keyword) if keyword else None
    if _wants_csv(request):
        return csv_response(
            _("faq-keyword"),
            [_("Day"), _("Partner"), _("Tier"), _("Searches"), _("Zero results"), _("Unresolved")],
            [(r["day"], r["partner__name"], r["partner__tier__name"] or "", r["searches"], r["zero"], r["unresolved"])
             for r in rows or []],
        )
    if keyword:
        totals = selectors.faq_keyword_totals(tenant=tenant, filters=filters, keyword=keyword)
        page = _page(request, rows, filters)
    else:
        totals, page = {"searches": 0, "zero": 0, "unresolved": 0}, None
    qs = filters.querystring(keyword=keyword)
    return _render(
        request,
        "kpis/faq_keyword.html",
        _base_context(
            request, choices, filters, keyword=keyword, rows=page.object_list if page else [], page=page,
            totals=totals, qs=qs,
        ),
    )


# --- teams -----------------------------------------------------------------------------------------


@_dashboard
def teams(request, tenant_slug: str):
    choices, filters = _state(request)
    tenant = request.tenant
    completion_def = selectors.completion_definition(tenant=tenant, period=filters.period)
    team_rows = selectors.team_usage(tenant=tenant, filters=filters)
    manager_rows = selectors.manager_effect(tenant=tenant, filters=filters, completion_def=completion_def)
    if _wants_csv(request):
        if request.GET.get("table") == "managers":
            return csv_response(
                _("channel-managers"),
                [_("Channel manager"), _("Partners"), _("Support activities"), _("Completion rate (%)"),
                 _("Previous period (%)"), _("Change (points)")],
                [(m["manager"], m["partners"], m["support"], m["rate"], m["prev_rate"], m["trend"]) for m in manager_rows],
            )
        return csv_response(
            _("teams"),
            [_("Team"), _("Published assets"), _("Assets used"), _("Share used (%)"), _("Events"), _("Completions")],
            [(t["team"] or _("No team"), t["assets"], t["used"], t["used_rate"], t["events"], t["completions"])
             for t in team_rows],
        )
    charts = {
        "team-usage": _chart(
            "bar",
            [t["team"] or _("No team") for t in team_rows],
            [
                {"label": _("Published assets"), "data": [t["assets"] for t in team_rows]},
                {"label": _("Assets used"), "data": [t["used"] for t in team_rows]},
            ],
        )
    }
    return _render(
        request,
        "kpis/teams.html",
        _base_context(
            request, choices, filters, team_rows=team_rows, manager_rows=manager_rows, charts=charts,
            completion_def=completion_def,
        ),
    )
