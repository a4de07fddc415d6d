"""Assessment pages: the bank, settings and attempts in the manage area; taking an assessment and
its result in the portal.

Manage pages: tenant admins and channel managers (partner users 403, other tenants 404). Portal
pages: partner users, and only for assessments they may see (``enablement.selectors.catalog.
visible_assets``); attempts are the user's own, everything else is the same 404. The taking page
renders ``selectors.attempt_paper`` — ids and texts only, never which answer is correct.
"""

from __future__ import annotations

import math

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from enablement.assessments import selectors as sel
from enablement.assessments import services
from enablement.assessments.forms import AttemptFilterForm, QuestionForm, SettingsForm
from enablement.assessments.models import Attempt, AttemptStatus, Question
from enablement.models import Asset, AssetKind
from enablement.selectors.catalog import visible_assets
from partners.errors import add_to_form
from partners.permissions import manager_required, partner_user_required
from partners.tenancy import get_for_tenant

PAGE_SIZE = 25


def _assessment(request, asset_id: int) -> Asset:
    return get_for_tenant(Asset.objects.filter(kind=AssetKind.ASSESSMENT), tenant=request.tenant, pk=asset_id)


# --- manage ------------------------------------------------------------------------------------------


@manager_required
@require_http_methods(["GET", "POST"])
def manage_assessment(request, tenant_slug: str, asset_id: int):
    """Settings and the question bank of one assessment."""
    tenant = request.tenant
    asset = _assessment(request, asset_id)
    current = services.settings_for(tenant=tenant, asset=asset)
    form = SettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.assessment_settings_update(
                tenant=tenant, actor=request.user, asset=asset,
                **{f: form.cleaned_data[f] for f in services.SETTING_FIELDS},
            )
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("manage-assessment", tenant_slug=tenant_slug, asset_id=asset.pk)
    return render(request, "assessments/manage_assessment.html", {
        "asset": asset, "form": form, "questions": sel.question_bank(tenant=tenant, asset=asset),
        "summary": sel.attempt_summary(tenant=tenant, asset=asset),
    })


@manager_required
@require_http_methods(["GET", "POST"])
def manage_question(request, tenant_slug: str, asset_id: int, question_id: int | None = None):
    tenant = request.tenant
    asset = _assessment(request, asset_id)
    question = None
    if question_id is not None:
        question = get_for_tenant(Question.objects.filter(asset=asset).prefetch_related("choices"), tenant=tenant, pk=question_id)
    form = QuestionForm(request.POST or None, question=question)
    if request.method == "POST" and form.is_valid():
        try:
            services.question_save(tenant=tenant, actor=request.user, asset=asset, question=question, **form.service_kwargs())
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Question saved."))
            return redirect("manage-assessment", tenant_slug=tenant_slug, asset_id=asset.pk)
    return render(request, "assessments/manage_question.html", {"asset": asset, "form": form, "question": question})


@manager_required
@require_POST
def manage_question_delete(request, tenant_slug: str, asset_id: int, question_id: int):
    asset = _assessment(request, asset_id)
    question = get_for_tenant(Question.objects.filter(asset=asset), tenant=request.tenant, pk=question_id)
    services.question_delete(tenant=request.tenant, actor=request.user, question=question)
    messages.success(request, _("Question deleted."))
    return redirect("manage-assessment", tenant_slug=tenant_slug, asset_id=asset.pk)


@manager_required
@require_GET
def manage_attempts(request, tenant_slug: str, asset_id: int):
    tenant = request.tenant
    asset = _assessment(request, asset_id)
    filters = AttemptFilterForm(request.GET or None, tenant=tenant)
    data = filters.cleaned_data if filters.is_valid() else {}
    partner = data.get("partner")
    rows = sel.attempt_rows(tenant=tenant, asset=asset, partner_id=partner.pk if partner else None,
                            result=data.get("result") or "")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    template = "assessments/manage_attempts.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, {
        "asset": asset, "filters": filters, "page": page, "query": query.urlencode(),
        "summary": sel.attempt_summary(tenant=tenant, asset=asset),
    })


# --- portal ------------------------------------------------------------------------------------------


def _visible(request, asset_id: int) -> Asset:
    qs = visible_assets(tenant=request.tenant, partner=request.membership.partner).filter(kind=AssetKind.ASSESSMENT)
    return get_for_tenant(qs.select_related("team"), tenant=request.tenant, pk=asset_id)


def _own_attempt(request, asset: Asset, attempt_id: int) -> Attempt:
    try:
        return sel.attempt_for_user(tenant=request.tenant, user=request.user, asset=asset, attempt_id=attempt_id)
    except Attempt.DoesNotExist as exc:
        raise Http404 from exc


@partner_user_required
@require_GET
@never_cache
def portal_assessment(request, tenant_slug: str, asset_id: int):
    """The assessment's front page: rules, my attempts, start or resume."""
    asset = _visible(request, asset_id)
    services.attempts_close_expired(tenant=request.tenant, user=request.user, asset=asset)
    state = sel.portal_state(tenant=request.tenant, user=request.user, asset=asset)
    return render(request, "assessments/portal_assessment.html", {"asset": asset, "state": state})


@partner_user_required
@require_POST
def portal_start(request, tenant_slug: str, asset_id: int):
    asset = _visible(request, asset_id)
    try:
        attempt = services.attempt_start(
            tenant=request.tenant, user=request.user, partner=request.membership.partner, asset=asset
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("portal-assessment", tenant_slug=tenant_slug, asset_id=asset.pk)
    return redirect("portal-assessment-take", tenant_slug=tenant_slug, asset_id=asset.pk, attempt_id=attempt.pk)


@partner_user_required
@require_GET
@never_cache
def portal_take(request, tenant_slug: str, asset_id: int, attempt_id: int):
    asset = _visible(request, asset_id)
    attempt = _own_attempt(request, asset, attempt_id)
    services.attempts_close_expired(tenant=request.tenant, user=request.user, asset=asset)
    attempt.refresh_from_db()
    if attempt.status != AttemptStatus.OPEN:
        return redirect("portal-assessment-result", tenant_slug=tenant_slug, asset_id=asset.pk, attempt_id=attempt.pk)
    remaining = None
    if attempt.deadline is not None:
        remaining = max(0, math.floor((attempt.deadline - services.clock()).total_seconds()))
    return render(request, "assessments/portal_take.html", {
        "asset": asset, "attempt": attempt, "paper": sel.attempt_paper(tenant=request.tenant, attempt=attempt),
        "remaining": remaining,
    })


@partner_user_required
@require_POST
def portal_submit(request, tenant_slug: str, asset_id: int, attempt_id: int):
    asset = _visible(request, asset_id)
    attempt = _own_attempt(request, asset, attempt_id)
    answers = {
        key[2:]: request.POST.getlist(key)[:20] for key in request.POST if key.startswith("q-") and key[2:].isdigit()
    }
    attempt = services.attempt_submit(tenant=request.tenant, user=request.user, attempt=attempt, answers=answers)
    return redirect("portal-assessment-result", tenant_slug=tenant_slug, asset_id=asset.pk, attempt_id=attempt.pk)


@partner_user_required
@require_GET
@never_cache
def portal_result(request, tenant_slug: str, asset_id: int, attempt_id: int):
    asset = _visible(request, asset_id)
    attempt = _own_attempt(request, asset, attempt_id)
    if attempt.status != AttemptStatus.GRADED:
        return redirect("portal-assessment-take", tenant_slug=tenant_slug, asset_id=asset.pk, attempt_id=attempt.pk)
    state = sel.portal_state(tenant=request.tenant, user=request.user, asset=asset)
    # Correct answers only once they cannot help another attempt: after a pass, or with none left.
    reveal = state.passed or state.attempts_left == 0
    review = sel.attempt_review(tenant=request.tenant, attempt=attempt, reveal=reveal,
                                true_label=_("True"), false_label=_("False"))
    return render(request, "assessments/portal_result.html", {
        "asset": asset, "attempt": attempt, "state": state, "reveal": reveal, "review": review,
        "wrong": sum(1 for item in review if not item.right),
    })
