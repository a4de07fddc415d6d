"""Request-body caps enforced before anything reads the body, and the login-attempt handler.

Django caps non-file form and JSON bodies (``DATA_UPLOAD_MAX_MEMORY_SIZE``) but streams file parts
of a multipart body to disk without a limit, so an anonymous client could make the login page
spool tens of megabytes. This middleware answers 413 from the declared ``Content-Length``:

* anonymous requests outside the API: ``ANONYMOUS_BODY_MAX_BYTES`` (login, password reset and
  invitation forms are a few kilobytes);
* everything else: ``AUTHENTICATED_BODY_MAX_BYTES`` (above the largest manage-area upload).

The API (``/api/``) authenticates with keys inside DRF, so it is only held to the second cap; its
JSON bodies are capped by ``DATA_UPLOAD_MAX_MEMORY_SIZE`` as well.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.http import HttpResponse


class BodySizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return HttpResponse("Bad Content-Length", status=400, content_type="text/plain")
        if length:
            cap = settings.AUTHENTICATED_BODY_MAX_BYTES
            if not request.path_info.startswith("/api/") and not request.user.is_authenticated:
                cap = settings.ANONYMOUS_BODY_MAX_BYTES
            if length > cap:
                return HttpResponse("Request body too large", status=413, content_type="text/plain")
        return self.get_response(request)


class LoginAttemptHandler(AxesDatabaseHandler):
    """django-axes' database handler whose reset on a successful login clears only that account's
    failures. The stock reset also clears every failure *from the client address*, so an attacker
    spraying many accounts could log into an account of their own every few attempts and never
    reach the per-address limit."""

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count
