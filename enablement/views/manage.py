"""Manage-area pages of the enablement app: assets, document versions, assignments, learning paths.

Tenant admins and channel managers only (partner users get 403, other tenants 404).
Views stay thin: forms check input, services write, selectors read.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from enablement.audiences import audience_of
from enablement.forms import (
    AssetFilterForm,
    AssetForm,
    AssignmentForm,
    AudienceForm,
    DocumentVersionForm,
    FaqSynonymForm,
    LearningPathForm,
)
from enablement.models import (
    Asset,
    AssetKind,
    Assignment,
    DocumentVersion,
    FaqQuestion,
    FaqRelatedAsset,
    FaqSynonym,
    LearningPath,
)
from enablement.selectors import catalog as catalog_selectors
from enablement.selectors import manage as sel
from enablement.services import catalog
from enablement.services.faq import (
    faq_question_link_answer,
    faq_synonym_create,
    faq_synonym_delete,
    faq_synonym_update,
)
from partners.errors import add_to_form
from partners.permissions import manager_required
from partners.tenancy import get_for_tenant

PAGE_SIZE = 25


def _render(request, template: str, context: dict, fragment: str | None = None):
    if fragment and request.htmx and not request.htmx.boosted:
        template = f"{template}#{fragment}"
    return render(request, template, context)


# --- Assets -----------------------------------------------------------------------------------
@manager_required
def asset_list(request, tenant_slug: str):
    tenant = request.tenant
    filters = AssetFilterForm(request.GET or None, tenant=tenant)
    data = filters.cleaned_data if filters.is_valid() else {}
    team = data.get("team")
    assets = sel.asset_list_manage(
        tenant=tenant, kind=data.get("kind", ""), status=data.get("status", ""),
        team_id=team.pk if team else None, q=data.get("q", ""),
    )
    page = Paginator(assets, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return _render(
        request,
        "enablement/manage_assets.html",
        {"filters": filters, "page": page, "query": query.urlencode(), "kinds": AssetKind.choices,
         "counts": sel.asset_status_counts(tenant=tenant)},
        fragment="results",
    )


@manager_required
@require_http_methods(["GET", "POST"])
def asset_new(request, tenant_slug: str):
    kind = request.GET.get("kind") or request.POST.get("kind") or ""
    if kind not in AssetKind.values:
        return render(request, "enablement/manage_asset_kind.html", {"kinds": AssetKind.choices})
    # An FAQ for a content gap (?gap=<keyword>) or a partner's question (?question=<id>) starts pre-filled.
    question, gap, initial = None, "", {}
    if kind == AssetKind.FAQ:
        question_id = request.GET.get("question") or request.POST.get("question") or ""
        if question_id:
            question = get_for_tenant(FaqQuestion, tenant=request.tenant, pk=question_id)
        gap = (request.GET.get("gap") or "").strip()[:300]
        if request.method == "GET" and (question or gap):
            initial = sel.faq_draft_initial(tenant=request.tenant, keyword=gap, question=question)
    form = AssetForm(request.POST or None, request.FILES or None, tenant=request.tenant, kind=kind, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            kwargs = form.service_kwargs()
            kwargs.pop("clear_video_file", None)
            asset = catalog.asset_create(tenant=request.tenant, actor=request.user, kind=kind, **kwargs)
            if question is not None:
                faq_question_link_answer(tenant=request.tenant, question=question, asset=asset, actor=request.user)
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("“%(title)s” was created as a draft.") % {"title": asset.title})
            return redirect("manage-asset-edit", tenant_slug=tenant_slug, asset_id=asset.pk)
    return render(
        request, "enablement/manage_asset_form.html",
        {"form": form, "kind": kind, "kind_label": AssetKind(kind).label, "asset": None, "question": question,
         "gap": gap},
    )


@manager_required
@require_http_methods(["GET", "POST"])
def asset_edit(request, tenant_slug: str, asset_id: int):
    tenant = request.tenant
    asset = get_for_tenant(Asset.objects.select_related("team"), tenant=tenant, pk=asset_id)
    initial = {
        "title": asset.title, "description": asset.description, "language": asset.language,
        "category": asset.category, "tags": ", ".join(asset.tag_list), "team": asset.team_id,
        "external_id": asset.external_id, "video_url": asset.video_url,
        "duration_seconds": asset.duration_seconds, "completion_threshold": asset.completion_threshold,
        "completion_requires": asset.completion_requires, "completion_min_seconds": asset.completion_min_seconds,
        "body": asset.body,
    }
    rule_locked = asset.kind == AssetKind.DOCUMENT and catalog_selectors.asset_has_activity(tenant=tenant, asset=asset)
    if asset.kind == AssetKind.FAQ:
        initial["related_assets"] = list(
            FaqRelatedAsset.objects.filter(tenant=tenant, faq=asset).values_list("asset_id", flat=True)
        )
    form = AssetForm(request.POST or None, request.FILES or None, tenant=tenant, kind=asset.kind, asset=asset,
                     initial=initial, rule_locked=rule_locked)
    if request.method == "POST" and form.is_valid():
        kwargs = form.service_kwargs()
        related = kwargs.pop("related_assets", None)
        try:
            catalog.asset_update(tenant=tenant, actor=request.user, asset=asset, related_assets=related, **kwargs)
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("manage-asset-edit", tenant_slug=tenant_slug, asset_id=asset.pk)
    versions = sel.asset_versions(tenant=tenant, asset=asset) if asset.kind == AssetKind.DOCUMENT else None
    return render(
        request, "enablement/manage_asset_form.html",
        {"form": form, "kind": asset.kind, "kind_label": asset.get_kind_display(), "asset": asset,
         "versions": versions, "audience": audience_of(tenant=tenant, asset=asset)},
    )


def _status_action(request, tenant_slug: str, asset_id: int, service, message: str):
    asset = get_for_tenant(Asset, tenant=request.tenant, pk=asset_id)
    try:
        service(tenant=request.tenant, actor=request.user, asset=asset)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, message % {"title": asset.title})
    return redirect("manage-asset-edit", tenant_slug=tenant_slug, asset_id=asset.pk)


@manager_required
@require_POST
def asset_publish(request, tenant_slug: str, asset_id: int):
    return _status_action(request, tenant_slug, asset_id, catalog.asset_publish, _("“%(title)s” is published."))


@manager_required
@require_POST
def asset_archive(request, tenant_slug: str, asset_id: int):
    return _status_action(request, tenant_slug, asset_id, catalog.asset_archive, _("“%(title)s” is archived."))


@manager_required
@require_http_methods(["GET", "POST"])
def asset_version_new(request, tenant_slug: str, asset_id: int):
    tenant = request.tenant
    asset = get_for_tenant(Asset.objects.filter(kind=AssetKind.DOCUMENT), tenant=tenant, pk=asset_id)
    form = DocumentVersionForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            version = catalog.document_version_add(
                tenant=tenant, actor=request.user, asset=asset, file=form.cleaned_data["file"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Version %(n)s uploaded; earlier versions are kept.") % {"n": version.version})
            return redirect("manage-asset-version-new", tenant_slug=tenant_slug, asset_id=asset.pk)
    return render(
        request, "enablement/manage_asset_versions.html",
        {"asset": asset, "form": form, "versions": sel.asset_versions(tenant=tenant, asset=asset)},
    )


@manager_required
def asset_version_download(request, tenant_slug: str, asset_id: int, version_id: int):
    version = get_for_tenant(
        DocumentVersion.objects.filter(asset_id=asset_id), tenant=request.tenant, pk=version_id
    )
    try:
        handle = version.file.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404 from exc
    return FileResponse(handle, as_attachment=True, filename=version.original_name, content_type=version.content_type)


# --- Assignments ------------------------------------------------------------------------------
@manager_required
def assignment_list(request, tenant_slug: str):
    show = request.GET.get("show", "active")
    active = {"active": True, "inactive": False}.get(show)
    page = Paginator(sel.assignment_list_manage(tenant=request.tenant, active=active), 50).get_page(
        request.GET.get("page")
    )
    return _render(
        request, "enablement/manage_assignments.html",
        {"page": page, "show": show, "query": urlencode({"show": show})}, fragment="results",
    )


@manager_required
@require_http_methods(["GET", "POST"])
def assignment_new(request, tenant_slug: str):
    initial = {}
    if request.GET.get("asset"):
        initial["asset"] = request.GET["asset"]
    if request.GET.get("path"):
        initial["learning_path"] = request.GET["path"]
    form = AssignmentForm(request.POST or None, tenant=request.tenant, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        target = d["target"]
        try:
            catalog.assignment_create(
                tenant=request.tenant, actor=request.user, target=target, due_on=d["due_on"],
                asset=d.get("asset"), learning_path=d.get("learning_path"),
                partner=d.get("partner") if target == "partner" else None,
                tier=d.get("tier") if target == "tier" else None,
                segment=d.get("segment", "") if target == "segment" else "",
                required_completions=d["required_completions"],
            )
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Assignment created."))
            return redirect("manage-assignments", tenant_slug=tenant_slug)
    return render(request, "enablement/manage_assignment_form.html", {"form": form})


@manager_required
@require_POST
def assignment_deactivate(request, tenant_slug: str, assignment_id: int):
    assignment = get_for_tenant(Assignment, tenant=request.tenant, pk=assignment_id)
    catalog.assignment_deactivate(tenant=request.tenant, actor=request.user, assignment=assignment)
    messages.success(request, _("Assignment deactivated."))
    return redirect("manage-assignments", tenant_slug=tenant_slug)


# --- Learning paths ---------------------------------------------------------------------------
@manager_required
def path_list(request, tenant_slug: str):
    return render(
        request, "enablement/manage_paths.html", {"paths": sel.learning_path_list_manage(tenant=request.tenant)}
    )


@manager_required
@require_http_methods(["GET", "POST"])
def path_form(request, tenant_slug: str, path_id: int | None = None):
    tenant = request.tenant
    path = get_for_tenant(LearningPath, tenant=tenant, pk=path_id) if path_id is not None else None
    initial = {"title": path.title, "description": path.description} if path else {}
    form = LearningPathForm(request.POST or None, tenant=tenant, path=path, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if path is None:
                catalog.learning_path_create(
                    tenant=tenant, actor=request.user, title=d["title"], description=d["description"], assets=d["assets"]
                )
            else:
                catalog.learning_path_update(
                    tenant=tenant, actor=request.user, path=path, title=d["title"], description=d["description"],
                    assets=d["assets"],
                )
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Learning path saved."))
            return redirect("manage-paths", tenant_slug=tenant_slug)
    audience = audience_of(tenant=tenant, path=path) if path is not None else None
    return render(request, "enablement/manage_path_form.html", {"form": form, "path": path, "audience": audience})


@manager_required
@require_http_methods(["GET", "POST"])
def audience_edit(request, tenant_slug: str, asset_id: int | None = None, path_id: int | None = None):
    """Who may see an asset or a learning path (everyone when nothing is chosen)."""
    tenant = request.tenant
    asset = get_for_tenant(Asset, tenant=tenant, pk=asset_id) if asset_id is not None else None
    path = get_for_tenant(LearningPath, tenant=tenant, pk=path_id) if path_id is not None else None
    current = audience_of(tenant=tenant, asset=asset, path=path)
    initial = {"tiers": current["tiers"], "segments": current["segments"], "partners": current["partners"]}
    form = AudienceForm(request.POST or None, tenant=tenant, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            catalog.audience_set(tenant=tenant, actor=request.user, asset=asset, path=path, tiers=list(d["tiers"]),
                                 segments=d["segments"], partners=list(d["partners"]))
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Audience saved."))
            if asset is not None:
                return redirect("manage-asset-edit", tenant_slug=tenant_slug, asset_id=asset.pk)
            return redirect("manage-path-edit", tenant_slug=tenant_slug, path_id=path.pk)
    back = (
        ("manage-asset-edit", {"asset_id": asset.pk}) if asset is not None else ("manage-path-edit", {"path_id": path.pk})
    )
    return render(request, "enablement/manage_audience.html",
                  {"form": form, "subject": asset or path, "back_name": back[0], "back_kwargs": back[1]})


# --- FAQ synonyms -----------------------------------------------------------------------------------


@manager_required
@require_http_methods(["GET", "POST"])
def faq_synonyms(request, tenant_slug: str, synonym_id: int | None = None):
    """The tenant's synonym list for FAQ search: add, edit (``synonym_id``), delete."""
    tenant = request.tenant
    editing = get_for_tenant(FaqSynonym, tenant=tenant, pk=synonym_id) if synonym_id else None
    form = FaqSynonymForm(request.POST or None, initial={"terms": editing.terms} if editing else None)
    if request.method == "POST" and form.is_valid():
        try:
            if editing:
                faq_synonym_update(tenant=tenant, synonym=editing, terms=form.cleaned_data["terms"], actor=request.user)
            else:
                faq_synonym_create(tenant=tenant, terms=form.cleaned_data["terms"], actor=request.user)
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Synonyms saved. Searches use them right away."))
            return redirect("manage-faq-synonyms", tenant_slug=tenant_slug)
    return render(
        request,
        "enablement/manage_faq_synonyms.html",
        {"form": form, "editing": editing, "synonyms": sel.faq_synonyms(tenant=tenant)},
    )


@manager_required
@require_POST
def faq_synonym_remove(request, tenant_slug: str, synonym_id: int):
    synonym = get_for_tenant(FaqSynonym, tenant=request.tenant, pk=synonym_id)
    faq_synonym_delete(tenant=request.tenant, synonym=synonym, actor=request.user)
    messages.success(request, _("Synonyms deleted."))
    return redirect("manage-faq-synonyms", tenant_slug=tenant_slug)
