"""Pages of packaged courses: the manage page of a training's package (upload, versions, attempts),
the portal launch page and its commit endpoint, and the sandboxed content itself.

``content`` is not under ``/t/<tenant>/``: the package's documents have an opaque origin and send no
session cookie, so the signed launch token in the path is what identifies the tenant, the user,
the package and the attempt (the scope is opened from it, as the notifications' unsubscribe does)."""

from __future__ import annotations

import json
import mimetypes
import posixpath
import re
import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import json_script
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from enablement.models import Asset, AssetKind
from enablement.packages import selectors
from enablement.packages.cmi5 import cmi5_launch
from enablement.packages.forms import PackageUploadForm
from enablement.packages.models import Attempt, Standard
from enablement.packages.services import (
    TokenInvalid,
    attempt_commit,
    attempt_launch,
    content_token,
    content_token_read,
    launch_state,
    package_upload,
)
from enablement.selectors import catalog as catalog_selectors
from enablement.services.training import PlaySessionInvalid
from enablement.throttling import portal_log_throttled
from partners.errors import add_to_form
from partners.models import Membership, Role
from partners.permissions import manager_required, partner_user_required
from partners.tenancy import get_for_tenant, tenant_scope

_UUID_RE = re.compile(r"^[0-9a-fA-F-]{32,36}$")
_HEAD_RE = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)
_HTML_RE = re.compile(rb"<html(\s[^>]*)?>", re.IGNORECASE)
HTML_TYPES = {"text/html", "application/xhtml+xml"}
# Package documents run with an opaque origin (sandbox without allow-same-origin): they cannot read
# the portal's cookies or storage, and their requests to the portal are cross-origin.
CONTENT_CSP = {
    "sandbox": ["allow-scripts", "allow-forms", "allow-popups", "allow-modals", "allow-downloads"],
    "default-src": ["'self'", "data:", "blob:"],
    "script-src": ["'self'", "'unsafe-inline'", "'unsafe-eval'", "blob:"],
    "style-src": ["'self'", "'unsafe-inline'", "data:"],
    "img-src": ["'self'", "data:", "blob:"],
    "media-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'self'"],
}
IFRAME_SANDBOX = "allow-scripts allow-forms allow-popups allow-modals allow-downloads"
RUNTIME = {Standard.SCORM12: "vendor/scorm-again/scorm12.min.js", Standard.SCORM2004: "vendor/scorm-again/scorm2004.min.js"}


# --- Manage -------------------------------------------------------------------------------------


@manager_required
@require_http_methods(["GET", "POST"])
def manage(request, tenant_slug: str, asset_id: int):
    tenant = request.tenant
    asset = get_for_tenant(Asset.objects.filter(kind=AssetKind.TRAINING), tenant=tenant, pk=asset_id)
    form = PackageUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            package = package_upload(tenant=tenant, actor=request.user, asset=asset, file=form.cleaned_data["file"])
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(
                request,
                _("Package version %(n)s (%(standard)s) is unpacked; learners launch “%(path)s”.")
                % {"n": package.version, "standard": package.get_standard_display(), "path": package.launch_path},
            )
            return redirect("manage-package", tenant_slug=tenant_slug, asset_id=asset.pk)
    current = selectors.current_package(tenant=tenant, asset=asset)
    return render(
        request,
        "packages/manage_package.html",
        {
            "asset": asset,
            "form": form,
            "current": current,
            "versions": selectors.package_versions(tenant=tenant, asset=asset),
            "attempts": selectors.package_attempts(tenant=tenant, asset=asset)[:200],
        },
    )


# --- Portal -------------------------------------------------------------------------------------


def _visible_training(request, asset_id: int) -> Asset:
    qs = catalog_selectors.visible_assets(tenant=request.tenant, partner=request.membership.partner)
    return get_for_tenant(qs.filter(kind=AssetKind.TRAINING), tenant=request.tenant, pk=asset_id)


def content_url(attempt: Attempt, path: str, query: str = "") -> str:
    url = reverse("package-content", kwargs={"token": content_token(attempt), "path": path})
    return f"{url}?{query}" if query else url


@partner_user_required
@require_GET
@never_cache
def launch(request, tenant_slug: str, asset_id: int):
    asset = _visible_training(request, asset_id)
    package = selectors.current_package(tenant=request.tenant, asset=asset)
    if package is None:
        raise Http404
    attempt, session = attempt_launch(
        tenant=request.tenant, partner=request.membership.partner, user=request.user, package=package
    )
    query = package.launch_query
    if package.standard == Standard.CMI5:
        query = _cmi5_query(request, attempt, query)
    context = {
        "asset": asset,
        "package": package,
        "attempt": attempt,
        "play_session": session,
        "src": content_url(attempt, package.launch_path, query),
        "sandbox": IFRAME_SANDBOX,
        "resume": bool(attempt.location or attempt.suspend_data),
        "commit_url": reverse("portal-package-commit", kwargs={"tenant_slug": tenant_slug, "asset_id": asset.pk}),
        "poll_url": (
            reverse("portal-package-status", kwargs={"tenant_slug": tenant_slug, "asset_id": asset.pk})
            + f"?attempt={attempt.pk}"
            if package.standard == Standard.CMI5 else ""
        ),
    }
    return render(request, "packages/portal_launch.html", context)


@partner_user_required
@require_GET
@never_cache
def status(request, tenant_slug: str, asset_id: int):
    """The learner's status of one of their own attempts (the launch page polls it for cmi5, whose
    AU reports to the LRS). 286 once completed: htmx stops polling."""
    asset = _visible_training(request, asset_id)
    try:
        attempt_id = int(request.GET.get("attempt", ""))
    except ValueError:
        return HttpResponseBadRequest("attempt must be a number")
    attempt = get_object_or_404(
        Attempt, pk=attempt_id, tenant=request.tenant, user=request.user, package__asset=asset
    )
    response = render(request, "packages/_status.html", {"attempt": attempt})
    if attempt.completed_at:
        response.status_code = 286
    return response


def _cmi5_query(request, attempt: Attempt, query: str) -> str:
    """A new cmi5 launch (LaunchData written) and its parameters after the AU's own query (cmi5 8.1)."""
    user = request.user
    params = cmi5_launch(
        attempt=attempt, home_page=f"{request.scheme}://{request.get_host()}/",
        learner_name=user.get_full_name() or user.email,
    )
    launch = params.launch
    fetch = reverse("cmi5-fetch", kwargs={"tenant_id": launch.tenant_id, "launch_id": launch.pk, "secret": params.fetch_secret})
    extra = urlencode({
        "endpoint": request.build_absolute_uri(reverse("cmi5-statements")).removesuffix("statements"),
        "fetch": request.build_absolute_uri(fetch),
        "actor": json.dumps(params.actor, separators=(",", ":")),
        "registration": str(attempt.registration),
        "activityId": attempt.package.activity_id,
    })
    return f"{query}&{extra}" if query else extra


@partner_user_required
@portal_log_throttled
@require_POST
@never_cache
def commit(request, tenant_slug: str, asset_id: int):
    """A runtime commit relayed by the launch page: ``{attempt, event_id, session, cmi}`` (JSON)."""
    asset = _visible_training(request, asset_id)
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return HttpResponseBadRequest("invalid JSON")
    if not isinstance(payload, dict) or not isinstance(payload.get("cmi"), dict):
        return HttpResponseBadRequest("cmi must be an object")
    event_id = str(payload.get("event_id") or "")
    if not _UUID_RE.match(event_id):
        return HttpResponseBadRequest("event_id must be a UUID")
    token = payload.get("session")
    attempt_id = payload.get("attempt")
    if not isinstance(token, str) or not isinstance(attempt_id, int):
        return HttpResponseBadRequest("attempt and session are required")
    try:
        result = attempt_commit(
            tenant=request.tenant, partner=request.membership.partner, user=request.user, attempt_id=attempt_id,
            asset=asset, cmi=payload["cmi"], event_id=str(uuid.UUID(event_id)), play_session=token,
            session_key=request.session.session_key or "",
        )
    except PlaySessionInvalid:
        return HttpResponseBadRequest("not a play session of this user on this training")
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages))
    return JsonResponse(result)


# --- Content ------------------------------------------------------------------------------------


def _inject(body: bytes, state: dict, runtime: str | None, origin: str) -> bytes:
    """Put the runtime, its starting state and the bridge at the top of an HTML document, so that
    ``window.API`` / ``window.API_1484_11`` exist in the content's own window before its scripts run."""
    if runtime is None:
        return body
    tags = (
        json_script({**state, "origin": origin}, "shien-package-state")
        + f'<script src="{static(runtime)}"></script><script src="{static("js/package-bridge.js")}"></script>'
    ).encode()
    for pattern in (_HEAD_RE, _HTML_RE):
        match = pattern.search(body, 0, 65536)
        if match:
            return body[: match.end()] + tags + body[match.end() :]
    return tags + body


@csp_override(CONTENT_CSP)
@xframe_options_exempt
@require_GET
def content(request, token: str, path: str):
    """One file of a package, for the attempt the token names. Only files listed in the package are
    served; HTML documents get the runtime injected; everything runs in the CSP sandbox."""
    try:
        claims = content_token_read(token)
    except TokenInvalid as exc:
        raise Http404 from exc
    clean = posixpath.normpath(path)
    if clean != path or clean.startswith(("/", "..")) or "\\" in path:
        raise Http404
    with tenant_scope(claims["t"]):
        attempt = (
            Attempt.objects.select_related("package", "user")
            .filter(tenant_id=claims["t"], pk=claims["a"], user_id=claims["u"], package_id=claims["p"])
            .first()
        )
        member = Membership.objects.filter(
            tenant_id=claims["t"], user_id=claims["u"], role=Role.PARTNER_USER, is_active=True
        ).exists()
        if attempt is None or not member or not attempt.user.is_active:
            raise Http404
        package = attempt.package
        if not any(name == clean for name, _size in package.files):
            raise Http404
        content_type = mimetypes.guess_type(clean)[0] or "application/octet-stream"
        storage_name = f"{package.folder}/{clean}"
        try:
            handle = default_storage.open(storage_name, "rb")
        except (FileNotFoundError, OSError) as exc:
            raise Http404 from exc
        if content_type in HTML_TYPES:
            with handle:
                body = handle.read()
            name = attempt.user.get_full_name() if hasattr(attempt.user, "get_full_name") else ""
            state = launch_state(attempt, learner_name=name or attempt.user.email)
            origin = f"{request.scheme}://{request.get_host()}"
            response = HttpResponse(_inject(body, state, RUNTIME.get(package.standard), origin), content_type=content_type)
            response["Cache-Control"] = "private, no-store"
        else:
            response = FileResponse(handle, content_type=content_type)
            response["Cache-Control"] = "private, max-age=600"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Content-Type-Options"] = "nosniff"
    return response
