"""The public verification page (no login): holder name, certification name, validity dates and
status — nothing else. The unguessable code is the only key; lookups are rate-limited per client
address so codes cannot be enumerated."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from enablement.certifications.selectors import certificate_for_verification
from partners.audit import client_ip
from partners.ratelimit import rate_limit_allow
from partners.tenancy import scopes_disabled

VERIFY_LIMIT = (30, 600)  # lookups per client address per 10 minutes


@never_cache
def certificate_verify(request, code: str):
    if not rate_limit_allow("certificate-verify:ip", client_ip(request), limit=VERIFY_LIMIT[0],
                            window=VERIFY_LIMIT[1]):
        response = render(request, "certifications/verify_limited.html", status=429)
        response["Retry-After"] = str(VERIFY_LIMIT[1])
        return response
    with scopes_disabled():  # the code is global: it names its tenant
        certificate = certificate_for_verification(code)
        if certificate is None:
            raise Http404("No such certificate")
        context = {
            "holder_name": certificate.holder.get_full_name(),
            "certification_name": certificate.certification.name,
            "issuer": certificate.tenant.name,
            "issued_at": timezone.localtime(certificate.issued_at, certificate.tenant.zoneinfo),
            "expires_at": timezone.localtime(certificate.expires_at, certificate.tenant.zoneinfo),
            "status": certificate.status(),
        }
    response = render(request, "certifications/verify.html", context)
    response["X-Robots-Tag"] = "noindex"
    return response
