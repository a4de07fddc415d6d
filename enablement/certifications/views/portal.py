"""Portal pages: the partner user's own certificates and their PDFs (nobody else's)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from enablement.certifications import selectors as sel
from enablement.certifications.models import Certificate
from enablement.certifications.pdf import certificate_pdf
from partners.notifications.services import absolute_url
from partners.permissions import partner_user_required
from partners.tenancy import get_for_tenant


def verify_url(certificate: Certificate) -> str:
    return absolute_url(reverse("certificate-verify", kwargs={"code": certificate.code}))


@partner_user_required
def my_certificates(request, tenant_slug: str):
    certificates = list(sel.certificates_for_holder(tenant=request.tenant, user=request.user))
    return render(request, "certifications/portal_list.html", {"certificates": certificates})


@partner_user_required
def certificate_download(request, tenant_slug: str, certificate_id: int):
    """The PDF of one of the person's own certificates (anyone else's: 404), in the person's
    language or the one asked for with ``?lang=``."""
    certificate = get_for_tenant(
        Certificate.objects.select_related("certification", "holder", "tenant"), tenant=request.tenant,
        pk=certificate_id, holder=request.user,
    )
    languages = {code for code, _name in settings.LANGUAGES}
    language = request.GET.get("lang") if request.GET.get("lang") in languages else request.LANGUAGE_CODE
    body = certificate_pdf(certificate=certificate, language=language, verify_url=verify_url(certificate))
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="certificate-{certificate.pk}-{language}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
