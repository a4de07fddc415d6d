"""The partner portal: home, catalog, training player, documents and FAQ (partner users only).

Views are thin: reads come from ``enablement.selectors.catalog`` / ``enablement.search``, every write to the
log goes through ``enablement.services.log.activity_record`` (training heartbeats through
``enablement.services.training``, document reading heartbeats through ``enablement.services.reading``). A partner user may open, download or log events only for the
tenant's published assets and the assets assigned to their partner; everything else is one 404.
"""

from __future__ import annotations

import html as html_lib
import json
import math
import mimetypes
import re
import uuid
from urllib.parse import urlencode

import markdown
import nh3
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import push_url

from enablement.models import ActivityEvent, Asset, AssetKind, Verb
from enablement.packages.selectors import current_package
from enablement.search import faq_search
from enablement.selectors import catalog as selectors
from enablement.services import reading
from enablement.services.faq import faq_question_create
from enablement.services.log import activity_record
from enablement.services.training import PlaySessionInvalid, play_session_start, training_progress_record
from enablement.throttling import portal_log_throttled
from partners.permissions import partner_user_required
from partners.tenancy import get_for_tenant

PAGE_SIZE = 24
MAX_MISSING = 1000
_PORTAL_VIEW_FOR_KIND = {
    AssetKind.TRAINING: "portal-training",
    AssetKind.DOCUMENT: "portal-document",
    AssetKind.FAQ: "portal-faq-detail",
    AssetKind.ASSESSMENT: "portal-assessment",
}
_UUID_RE = re.compile(r"^[0-9a-fA-F-]{32,36}$")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def portal_url(tenant, asset: Asset) -> str:
    return reverse(_PORTAL_VIEW_FOR_KIND[asset.kind], kwargs={"tenant_slug": tenant.slug, "asset_id": asset.pk})


def _with_urls(tenant, assets):
    for asset in assets:
        asset.portal_url = portal_url(tenant, asset)
    return assets


def _visible(request, asset_id: int, kind: str) -> Asset:
    """The one door to an asset: published or assigned to my partner, of this tenant, of this kind."""
    qs = selectors.visible_assets(tenant=request.tenant, partner=request.membership.partner).filter(kind=kind)
    return get_for_tenant(qs.select_related("team"), tenant=request.tenant, pk=asset_id)


def _log(request, *, verb: str, asset: Asset | None = None, **fields):
    return activity_record(
        tenant=request.tenant,
        partner=request.membership.partner,
        user=request.user,
        asset=asset,
        verb=verb,
        session_key=request.session.session_key or "",
        **fields,
    )


def _json_object(request) -> dict | None:
    """A heartbeat's JSON body: an object, or None when it is not one (an empty body is {})."""
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _version_file(version, *, as_attachment: bool, content_type: str) -> FileResponse:
    """A document version's file, private and never sniffed (404 when its file is gone)."""
    try:
        handle = version.file.storage.open(version.file.name, "rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(handle, as_attachment=as_attachment, filename=version.original_name, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- Home and catalog ------------------------------------------------------------------------------


@partner_user_required
@require_GET
def home(request, tenant_slug: str):
    tenant, partner = request.tenant, request.membership.partner
    rows = selectors.portal_assignment_rows(tenant=tenant, partner=partner, user=request.user)
    for row in rows:
        row.asset.portal_url = portal_url(tenant, row.asset)
    assigned = {r.asset.pk for r in rows}
    recent = _with_urls(tenant, list(selectors.recent_materials(tenant=tenant, partner=request.membership.partner)))
    context = {
        "rows": rows,
        "next_steps": selectors.next_steps(rows),
        "recent": recent,
        "assigned_ids": assigned,
        "overdue_count": sum(1 for r in rows if r.overdue),
        "done_count": sum(1 for r in rows if r.done),
    }
    return render(request, "enablement/portal_home.html", context)


@partner_user_required
@require_GET
def catalog(request, tenant_slug: str):
    tenant, partner = request.tenant, request.membership.partner
    filters = {
        "kind": request.GET.get("kind", "").strip(),
        "category": request.GET.get("category", "").strip()[:100],
        "tag": request.GET.get("tag", "").strip()[:100],
        "q": request.GET.get("q", "").strip()[:200],
    }
    qs: QuerySet[Asset] = selectors.catalog_assets(tenant=tenant, partner=request.membership.partner, **filters)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    _with_urls(tenant, page.object_list)
    assigned = set(selectors.assigned_asset_ids(tenant=tenant, partner=partner).values_list("pk", flat=True))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "facets": selectors.catalog_facets(tenant=tenant, partner=request.membership.partner),
        "kinds": AssetKind.choices,
        "assigned_ids": assigned,
        "query_string": params.urlencode(),
    }
    template = "enablement/portal_catalog.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


@partner_user_required
@require_GET
def asset(request, tenant_slug: str, asset_id: int):
    """A stable link to any asset (e.g. from the next best action): redirects by kind."""
    qs = selectors.visible_assets(tenant=request.tenant, partner=request.membership.partner)
    obj = get_for_tenant(qs, tenant=request.tenant, pk=asset_id)
    return redirect(portal_url(request.tenant, obj))


# --- Trainings -----------------------------------------------------------------------------------


@partner_user_required
@require_GET
def training(request, tenant_slug: str, asset_id: int):
    obj = _visible(request, asset_id, AssetKind.TRAINING)
    if current_package(tenant=request.tenant, asset=obj) is not None:  # a packaged course
        return redirect("portal-package-launch", tenant_slug=tenant_slug, asset_id=obj.pk)
    state = selectors.training_state(tenant=request.tenant, user=request.user, asset=obj)
    duration = obj.duration_seconds or 0
    resume = state.position if duration and state.position < duration - 2 else 0
    if obj.video_file:
        src = reverse("portal-asset-media", kwargs={"tenant_slug": tenant_slug, "asset_id": obj.pk})
    else:
        src = obj.video_url
    _session, token = play_session_start(tenant=request.tenant, user=request.user, asset=obj)
    context = {
        "asset": obj,
        "play_session": token,
        "state": state,
        "share_percent": round(state.share * 100),
        "resume": round(resume, 1),
        "video_src": src,
        "video_type": mimetypes.guess_type(obj.video_file.name)[0] if obj.video_file else "",
    }
    return render(request, "enablement/portal_training.html", context)


def _iter_range(handle, length: int, chunk: int = 64 * 1024):
    try:
        remaining = length
        while remaining > 0:
            data = handle.read(min(chunk, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        handle.close()


def ranged_file_response(request, fieldfile, content_type: str):
    """Serve a stored file with HTTP Range support (players seek with Range requests)."""
    size = fieldfile.size
    handle = fieldfile.storage.open(fieldfile.name, "rb")
    match = _RANGE_RE.match(request.headers.get("Range", "").strip())
    if match and (match.group(1) or match.group(2)):
        if match.group(1):
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else size - 1
        else:
            start, end = max(0, size - int(match.group(2))), size - 1
        end = min(end, size - 1)
        if start > end or start >= size:
            handle.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        handle.seek(start)
        response = StreamingHttpResponse(_iter_range(handle, end - start + 1), status=206, content_type=content_type)
        response["Content-Length"] = str(end - start + 1)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        response = FileResponse(handle, content_type=content_type)
    response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@partner_user_required
@require_GET
def asset_media(request, tenant_slug: str, asset_id: int):
    """The uploaded video of a training, only through this authorised view."""
    obj = _visible(request, asset_id, AssetKind.TRAINING)
    if not obj.video_file:
        raise Http404
    content_type = mimetypes.guess_type(obj.video_file.name)[0] or "application/octet-stream"
    try:
        return ranged_file_response(request, obj.video_file, content_type)
    except FileNotFoundError as exc:
        raise Http404 from exc


@partner_user_required
@portal_log_throttled
@require_POST
@never_cache
def training_progress(request, tenant_slug: str, asset_id: int):
    """Player heartbeat: ``{event_id, session, played_segments, position}`` (JSON; a ``duration``
    the player reports is ignored: the server's duration of the asset decides).

    ``session`` is the signed play-session token the training page was rendered with; only time
    played within that session's budget is credited (``enablement.services.training``)."""
    obj = _visible(request, asset_id, AssetKind.TRAINING)
    payload = _json_object(request)
    if payload is None:
        return HttpResponseBadRequest("invalid JSON: an object is expected")
    event_id = str(payload.get("event_id") or "")
    if not _UUID_RE.match(event_id):
        return HttpResponseBadRequest("event_id must be a UUID")
    segments = payload.get("played_segments") or []
    if not isinstance(segments, list):
        return HttpResponseBadRequest("played_segments must be a list")
    try:
        position = float(payload.get("position") or 0)
    except (TypeError, ValueError):
        return HttpResponseBadRequest("position must be a number")
    token = payload.get("session")
    if not isinstance(token, str) or not token:
        return HttpResponseBadRequest("session (the play session token of the page) is required")
    try:
        result = training_progress_record(
            tenant=request.tenant,
            partner=request.membership.partner,
            user=request.user,
            asset=obj,
            event_id=str(uuid.UUID(event_id)),
            played_segments=segments,
            position=position,
            play_session=token,
            session_key=request.session.session_key or "",
        )
    except PlaySessionInvalid:
        return HttpResponseBadRequest("not a play session of this user on this training")
    return JsonResponse(result)


# --- Documents -----------------------------------------------------------------------------------


@partner_user_required
@portal_log_throttled
@require_GET
def document(request, tenant_slug: str, asset_id: int):
    """The document page logs ``document.viewed``; it says what completes the document, and for a
    document completed by reading time it starts (or resumes) the server-side reading session
    whose signed token ``static/js/reading.js`` sends with its heartbeats."""
    obj = _visible(request, asset_id, AssetKind.DOCUMENT)
    _log(request, verb=Verb.DOCUMENT_VIEWED, asset=obj)
    versions = list(obj.versions.filter(tenant=request.tenant).order_by("-version")[:10])
    latest = versions[0] if versions else None
    context = {"asset": obj, "latest": latest, "versions": versions, "inline": _shown_inline(latest)}
    if reading.reads_by_time(obj):
        _session, token = reading.reading_start(tenant=request.tenant, user=request.user, asset=obj)
        state = reading.reading_state(tenant=request.tenant, user=request.user, asset=obj)
        context.update(reading_session=token, reading=state, completed=state.done,
                       minutes=max(1, math.ceil(state.required / 60)))
    else:
        context["completed"] = selectors.user_completed(tenant=request.tenant, user=request.user, asset=obj)
    return render(request, "enablement/portal_document.html", context)


@partner_user_required
@portal_log_throttled
@require_POST
@never_cache
def document_reading(request, tenant_slug: str, asset_id: int):
    """Reading heartbeat of a document completed by reading time: ``{session, seconds}`` (JSON),
    ``seconds`` = how long the page was visible since the previous heartbeat. The server credits
    it only within the reading session's elapsed wall-clock time and logs ``document.read`` once
    the document's minimum reading time is reached (``enablement.services.reading``)."""
    obj = _visible(request, asset_id, AssetKind.DOCUMENT)
    payload = _json_object(request)
    if payload is None:
        return HttpResponseBadRequest("invalid JSON: an object is expected")
    token = payload.get("session")
    if not isinstance(token, str) or not token:
        return HttpResponseBadRequest("session (the reading session token of the page) is required")
    seconds = payload.get("seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        return HttpResponseBadRequest("seconds must be a non-negative number")
    try:
        result = reading.reading_record(
            tenant=request.tenant,
            partner=request.membership.partner,
            user=request.user,
            asset=obj,
            token=token,
            seconds=float(seconds),
            session_key=request.session.session_key or "",
        )
    except reading.ReadingNotRequired:
        return HttpResponseBadRequest("this document is not completed by reading time")
    except reading.PlaySessionInvalid:
        return HttpResponseBadRequest("not a reading session of this user on this document")
    return JsonResponse(result)


@partner_user_required
@portal_log_throttled
@require_GET
def document_download(request, tenant_slug: str, asset_id: int):
    """The latest version as an attachment with its original (possibly Japanese) file name."""
    obj = _visible(request, asset_id, AssetKind.DOCUMENT)
    version = selectors.latest_version(tenant=request.tenant, asset=obj)
    if version is None or not version.file:
        raise Http404
    response = _version_file(version, as_attachment=True, content_type=version.content_type or "application/octet-stream")
    _log(request, verb=Verb.DOCUMENT_DOWNLOADED, asset=obj, extra={"version": version.version})
    return response


def _shown_inline(version) -> bool:
    """A PDF is read on the document page itself (the upload check sets ``application/pdf`` only
    for content that is a PDF); other formats are downloaded."""
    return bool(version and version.file and version.content_type == "application/pdf")


# The PDF shown in the document page's frame: this origin may frame it, nothing may run in it but
# the browser's own PDF viewer, and it loads nothing else.
_INLINE_CSP = {"default-src": ["'none'"], "frame-ancestors": ["'self'"], "object-src": ["'self'"]}


@partner_user_required
@require_GET
@xframe_options_sameorigin
@csp_override(_INLINE_CSP)
def document_file(request, tenant_slug: str, asset_id: int):
    """The latest version of a PDF document, inline, for the reader on the document page. Reading
    it there is not a download: nothing is logged (the page logged ``document.viewed``; reading
    time is credited by the page's heartbeats)."""
    obj = _visible(request, asset_id, AssetKind.DOCUMENT)
    version = selectors.latest_version(tenant=request.tenant, asset=obj)
    if not _shown_inline(version):
        raise Http404
    return _version_file(version, as_attachment=False, content_type="application/pdf")


# --- FAQ -----------------------------------------------------------------------------------------


def _sid(value: str) -> str | None:
    """A search id from the URL (a UUID), or None."""
    try:
        return uuid.UUID(value).hex if _UUID_RE.match(value or "") else None
    except ValueError:
        return None


def _search_url(tenant_slug: str, query: str, sid: str, **extra) -> str:
    return reverse("portal-faq", kwargs={"tenant_slug": tenant_slug}) + "?" + urlencode({"q": query, "sid": sid, **extra})


@partner_user_required
@portal_log_throttled
@require_GET
def faq(request, tenant_slug: str):
    """FAQ search. A search is logged once: a new search (no ``sid``) gets a search id and is
    redirected (303) to its own URL ``?q=…&sid=…`` (htmx: the URL is pushed instead); the log
    event's id is made of the user and that search id, so reloading the page or coming back to
    it stores nothing new (``activity_record`` is idempotent on the event id)."""
    query = " ".join(request.GET.get("q", "").split())[:200]
    sid = _sid(request.GET.get("sid", ""))
    results = None
    pushed = None
    if query and not sid:
        sid = uuid.uuid4().hex
        if not request.htmx:
            return redirect(_search_url(tenant_slug, query, sid), permanent=False)
        pushed = _search_url(tenant_slug, query, sid)
    if query:
        results = _with_urls(
            request.tenant, faq_search(tenant=request.tenant, partner=request.membership.partner, query=query)
        )
        for result in results:
            result.snippet = markdown_text(result.body)
        _log(
            request,
            verb=Verb.FAQ_SEARCHED,
            query=query,
            result_count=len(results),
            event_id=f"faq-search:{request.user.pk}:{sid}",
        )
    popular = []
    if results is None:
        popular = _with_urls(
            request.tenant,
            list(
                selectors.catalog_assets(tenant=request.tenant, partner=request.membership.partner, kind=AssetKind.FAQ)[:10]
            ),
        )
    context = {
        "query": query,
        "sid": sid,
        "results": results,
        "popular": popular,
        "asked": request.GET.get("asked") == "1",
        "manager": request.membership.partner.manager if results == [] else None,
    }
    template = "enablement/portal_faq.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    response = render(request, template, context)
    return push_url(response, pushed) if pushed else response


@partner_user_required
@require_POST
def faq_ask(request, tenant_slug: str):
    """The no-results page: send the question to the partner's channel manager (a support request)."""
    query = " ".join(request.POST.get("q", "").split())[:200]
    sid = _sid(request.POST.get("sid", "")) or uuid.uuid4().hex
    try:
        faq_question_create(
            tenant=request.tenant,
            partner=request.membership.partner,
            user=request.user,
            query=query,
            message=request.POST.get("message", ""),
        )
    except ValidationError:
        return HttpResponseBadRequest(_("Write your question."))
    return redirect(_search_url(tenant_slug, query, sid, asked="1"))


def markdown_text(text: str, limit: int = 300) -> str:
    """The plain text of a Markdown answer (for result snippets)."""
    html = markdown.markdown((text or "")[:2000], output_format="html")
    return " ".join(html_lib.unescape(nh3.clean(html, tags=set())).split())[:limit]


def render_markdown(text: str) -> str:
    html = markdown.markdown(text or "", extensions=["extra", "sane_lists"], output_format="html")
    return mark_safe(nh3.clean(html))  # noqa: S308 - sanitised by nh3 right here


def _my_feedback(request, asset: Asset) -> dict | None:
    """This person's answer for this FAQ: the latest ``faq.feedback`` event counts (the log is append-only)."""
    return (
        ActivityEvent.objects.filter(tenant=request.tenant, user=request.user, asset=asset, verb=Verb.FAQ_FEEDBACK)
        .order_by("-occurred_at", "-id")
        .values("resolved", "extra")
        .first()
    )


@partner_user_required
@portal_log_throttled
@require_GET
def faq_detail(request, tenant_slug: str, asset_id: int):
    obj = _visible(request, asset_id, AssetKind.FAQ)
    query = request.GET.get("q", "").strip()[:200]
    after_feedback = request.GET.get("after") == "feedback"
    changing = request.GET.get("change") == "1"
    if not (after_feedback or changing):  # coming back to answer is not a new view
        _log(request, verb=Verb.FAQ_VIEWED, asset=obj, query=query)
    related = _with_urls(
        request.tenant,
        list(selectors.related_assets(tenant=request.tenant, partner=request.membership.partner, faq=obj)),
    )
    mine = _my_feedback(request, obj)
    context = {
        "asset": obj,
        "answer": render_markdown(obj.body),
        "related": related,
        "query": query,
        "previous": ("yes" if mine["resolved"] else "no") if mine else "",
        "changing": changing,
        "stage": "missing" if after_feedback and request.GET.get("missing") == "1" else "",
        "feedback_given": ("yes" if mine["resolved"] else "no") if after_feedback and mine else "",
    }
    return render(request, "enablement/portal_faq_detail.html", context)


@partner_user_required
@portal_log_throttled
@require_POST
def faq_feedback(request, tenant_slug: str, asset_id: int):
    """"Did this solve your problem?" → ``faq.feedback`` with resolved True/False (HTMX or plain POST).

    One answer per person per FAQ, changeable: every answer is a new event and the latest one
    counts (``kpis.rollup`` counts only each person's latest answer). "No" asks what was missing;
    the text is stored with a new "no" event (``extra["missing"]``), which then is the latest.
    """
    obj = _visible(request, asset_id, AssetKind.FAQ)
    answer = request.POST.get("resolved", "")
    if answer not in {"yes", "no"}:
        return HttpResponseBadRequest("resolved must be yes or no")
    query = request.POST.get("q", "").strip()[:200]
    missing = " ".join(request.POST.get("missing", "").split())[:MAX_MISSING] if answer == "no" else ""
    _log(
        request,
        verb=Verb.FAQ_FEEDBACK,
        asset=obj,
        resolved=answer == "yes",
        query=query,
        extra={"missing": missing} if missing else None,
    )
    # "no" without a reason yet: ask what was missing (the "no" is already counted).
    stage = "missing" if answer == "no" and "missing" not in request.POST else "thanks"
    context = {"asset": obj, "feedback_given": answer, "query": query, "stage": stage}
    if request.htmx:
        return render(request, "enablement/portal_faq_detail.html#feedback", context)
    from django.contrib import messages

    if stage == "missing":
        url = reverse("portal-faq-detail", kwargs={"tenant_slug": tenant_slug, "asset_id": obj.pk})
        return redirect(f"{url}?{urlencode({'q': query, 'after': 'feedback', 'missing': '1'})}#faq-feedback")
    messages.success(request, _("Thank you for your feedback."))
    url = reverse("portal-faq-detail", kwargs={"tenant_slug": tenant_slug, "asset_id": obj.pk})
    return redirect(f"{url}?{urlencode({'q': query, 'after': 'feedback'})}")
