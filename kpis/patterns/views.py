"""Success patterns page (cohorts, lift table, playbook, adoption) and next-best-action partials.

Thin views over kpis.patterns.selectors / kpis.patterns.services / kpis.patterns.mining. Writes are POST
(CSRF) and redirect back to the page (post/redirect/get); managers only, except the portal partial.
"""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from enablement.models import Asset, LearningPath, LearningPathItem
from kpis import jobs
from kpis.patterns import selectors as sel
from kpis.patterns import services as svc
from kpis.patterns.mining import mine_patterns
from kpis.patterns.models import MIN_SAMPLE, OutcomeMetric, PatternItemType
from partners.models import CohortOverride, Partner
from partners.permissions import manager_required, partner_user_required
from partners.replica import replica_reads
from partners.tenancy import get_for_tenant

logger = logging.getLogger(__name__)


def _params(data) -> tuple[int, float, str]:
    return sel.clean_params(data.get("window_days"), data.get("top_share"), data.get("metric"))


COHORT_PAGE_SIZE = 25


class _OnePage:
    """A list of known length of which one page was read (``sel.CohortPage``, ``sel.AdoptionPage``): the
    Paginator asks for that page only (it picks the same page number as the query did)."""

    def __init__(self, page: sel.CohortPage | sel.AdoptionPage):
        self.page = page

    def __len__(self) -> int:
        return self.page.count

    def __getitem__(self, index: slice):
        assert index.start == (self.page.number - 1) * COHORT_PAGE_SIZE, (index, self.page.number)
        return self.page.rows


def _paged(request, rows, param: str):
    """One page of a list (``?<param>=n``, out-of-range numbers clamp) and the other GET parameters,
    so a tenant with thousands of partners renders 25 rows — and 25 forms — per list. ``rows`` is
    sliced for the page only (a queryset: one query with LIMIT/OFFSET)."""
    paginator = Paginator(rows, COHORT_PAGE_SIZE)
    page = paginator.get_page(request.GET.get(param))
    query = request.GET.copy()
    query.pop(param, None)
    return {"page": page, "param": param, "query": query.urlencode()}


def _page_url(request, days: int, share: float, metric: str) -> str:
    query = urlencode({"window_days": days, "top_share": round(share * 100), "metric": metric})
    return f"{reverse('manage-patterns', kwargs={'tenant_slug': request.tenant.slug})}?{query}"


@replica_reads
@manager_required
@require_GET
@vary_on_headers("HX-Request")
def patterns(request, tenant_slug: str):
    tenant = request.tenant
    days, share, metric = _params(request.GET)
    runs = sel.recent_runs(tenant=tenant)
    run = runs[0] if runs else None
    if run is not None and "window_days" not in request.GET:  # open on the latest run's own parameters
        days, share, metric = sel.clean_params(run.window_days, run.top_share, run.metric)
    # The four cohorts' sizes and the asked page of each list: from the stored ranking of the newest run
    # with these parameters (one indexed page a list), else computed live (every partner ranked).
    asked = {c: request.GET.get(f"{c}_page") for c in sel.COHORTS}
    stored = sel.stored_run(runs, window_days=days, top_share=share, metric=metric)
    if stored is not None:
        cohorts = sel.stored_cohort_pages(tenant=tenant, run=stored, pages=asked, page_size=COHORT_PAGE_SIZE)
    else:
        cohorts = sel.cohort_pages(
            tenant=tenant, window_days=days, top_share=share, metric=metric, page_size=COHORT_PAGE_SIZE, pages=asked,
        )
    counts = cohorts.counts
    paged = {c: _paged(request, _OnePage(cohorts.pages[c]), f"{c}_page") for c in sel.COHORTS}
    items = sel.lift_table(tenant=tenant, run=run)
    playbook = sel.current_playbook(tenant=tenant, run=run)
    pb_items = sel.playbook_items(tenant=tenant, path=playbook)
    in_playbook = {i.asset_id for i in pb_items}
    addable = [
        i.asset for i in items
        if i.item_type == PatternItemType.ASSET and i.asset_id not in in_playbook and not i.too_early and (i.lift or 0) > 1
    ]
    # The adoption table: ordered, counted and paged in one statement, then the page's rows read.
    adoption = sel.adoption_page(tenant=tenant, items=pb_items, page=request.GET.get("adoption_page"),
                                 page_size=COHORT_PAGE_SIZE)
    paged["adoption"] = _paged(request, _OnePage(adoption), "adoption_page")
    ctx = {
        "window_days": days,
        "top_share_pct": round(share * 100),
        "metric": metric,
        "metrics": OutcomeMetric.choices,
        "cohorts": cohorts,
        "cohort_counts": counts,
        "overrides": CohortOverride.choices,
        "run": run,
        "items": items,
        "significant_count": sum(1 for i in items if i.significant),
        "min_sample": MIN_SAMPLE,
        "playbook": playbook,
        "playbook_items": pb_items,
        "addable": addable,
        "adoption_count": adoption.count,
        "paged": paged,
        "default_due": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
        "min_due": timezone.localdate().isoformat(),
        "page_url": _page_url(request, days, share, metric),
    }
    return render(request, "patterns/page.html", ctx)


@manager_required
@require_POST
def patterns_run(request, tenant_slug: str):
    """Run the mining now with the chosen window / share / metric (eager) or queue it (broker)."""
    days, share, metric = _params(request.POST)
    tenant = request.tenant
    queued = False
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        # Bounded to about a second; a broker that is down or hung: compute inline instead.
        queued = jobs.enqueue("kpis.patterns.tasks.mine_patterns_tenant", tenant.pk, days, share, metric)
    if queued:
        messages.info(request, _("The analysis has been queued; reload the page in a minute."))
    else:
        run = mine_patterns(tenant=tenant, window_days=days, top_share=share, metric=metric, actor=request.user)
        if run.status == run.Status.OK:
            messages.success(request, _("Success patterns recomputed."))
        else:
            messages.warning(request, _("Not enough data: at least one top partner with a won deal and one other partner are needed."))
    return redirect(_page_url(request, days, share, metric))


@manager_required
@require_POST
def patterns_cohort(request, tenant_slug: str):
    partner = get_for_tenant(Partner, tenant=request.tenant, pk=request.POST.get("partner_id"))
    try:
        svc.partner_cohort_override_set(
            tenant=request.tenant, partner=partner, value=request.POST.get("cohort_override", ""), actor=request.user
        )
    except ValidationError:
        messages.error(request, _("Unknown cohort."))
    else:
        messages.success(request, _("Cohort of %(name)s updated.") % {"name": partner.name})
    return redirect(_page_url(request, *_params(request.POST)))


@manager_required
@require_POST
def patterns_playbook(request, tenant_slug: str):
    """Create the suggested playbook from the latest run, or edit it (move / remove / add an item)."""
    tenant = request.tenant
    action = request.POST.get("action")
    back = redirect(_page_url(request, *_params(request.POST)) + "#playbook")
    if action == "create":
        run = sel.latest_run(tenant=tenant)
        path = svc.playbook_create_from_run(tenant=tenant, run=run, actor=request.user) if run else None
        if path is None:
            messages.warning(request, _("No item has a significant positive lift yet: there is no playbook to suggest."))
        else:
            messages.success(request, _("Playbook “%(title)s” created.") % {"title": path.title})
        return back
    path = get_for_tenant(LearningPath.objects.filter(is_playbook=True), tenant=tenant, pk=request.POST.get("path_id"))
    try:
        if action in ("up", "down", "remove"):
            item = get_for_tenant(LearningPathItem.objects.filter(path=path), tenant=tenant, pk=request.POST.get("item_id"))
            if action == "remove":
                svc.playbook_item_remove(tenant=tenant, path=path, item=item, actor=request.user)
            else:
                svc.playbook_item_move(tenant=tenant, path=path, item=item, offset=-1 if action == "up" else 1,
                                       actor=request.user)
        elif action == "add":
            asset = get_for_tenant(Asset, tenant=tenant, pk=request.POST.get("asset_id"))
            svc.playbook_item_add(tenant=tenant, path=path, asset=asset, actor=request.user)
        else:
            messages.error(request, _("Unknown action."))
            return back
    except ValidationError:
        messages.error(request, _("The playbook could not be changed."))
    else:
        messages.success(request, _("Playbook updated."))
    return back


@manager_required
@require_POST
def patterns_assign(request, tenant_slug: str):
    """One click: every playbook item to every partner of the nurturing cohort (idempotent)."""
    tenant = request.tenant
    days, share, metric = _params(request.POST)
    path = get_for_tenant(LearningPath.objects.filter(is_playbook=True), tenant=tenant, pk=request.POST.get("path_id"))
    try:
        due_on = dt.date.fromisoformat(request.POST.get("due_on", ""))
    except ValueError:
        messages.error(request, _("Choose a due date."))
        return redirect(_page_url(request, days, share, metric) + "#playbook")
    # The partners the page lists as needing nurturing: the stored ranking's when the page reads one.
    stored = sel.stored_run(sel.recent_runs(tenant=tenant), window_days=days, top_share=share, metric=metric)
    if stored is not None:
        partners = sel.stored_cohort_partners(tenant=tenant, run=stored, cohort="nurture")
    else:
        partners = list(sel.cohort_ranking(tenant=tenant, window_days=days, top_share=share, metric=metric).rows("nurture"))
    try:
        created = svc.playbook_assign(tenant=tenant, path=path, partners=partners, due_on=due_on, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Playbook assigned to %(partners)s partners needing nurturing: %(created)s new assignments (existing ones are kept).")
            % {"partners": len(partners), "created": created},
        )
    return redirect(_page_url(request, days, share, metric) + "#adoption")


def _nba(request, partner: Partner, template_base: str):
    is_portal = template_base == "base_portal.html"
    actions = sel.next_best_actions(tenant=request.tenant, partner=partner, for_manager=not is_portal)
    ctx = {"partner": partner, "actions": actions, "base": template_base, "is_portal": is_portal,
           "certification_gaps": sel.certification_actions(tenant=request.tenant, partner=partner)}
    template = "patterns/nba.html#nba" if request.htmx else "patterns/nba.html"
    return render(request, template, ctx)


@manager_required
@require_GET
@vary_on_headers("HX-Request")
def partner_nba(request, tenant_slug: str, partner_id: int):
    """Partial for the partner scorecard: the next playbook items this partner has not done."""
    partner = get_for_tenant(Partner, tenant=request.tenant, pk=partner_id)
    return _nba(request, partner, "base_manage.html")


@partner_user_required
@require_GET
@vary_on_headers("HX-Request")
def portal_next_best_action(request, tenant_slug: str):
    """Partial for the portal home (hx-get): the partner's own next best actions."""
    return _nba(request, request.membership.partner, "base_portal.html")
