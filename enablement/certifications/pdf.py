"""The PDF certificate, drawn with ReportLab. Japanese and English; the vendored Noto Sans JP
(static/vendor/fonts/noto-sans-jp, SIL OFL 1.1) is embedded as a subset, so the PDF shows the
same on a machine without Japanese fonts."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from enablement.certifications.models import Certificate

FONT_NAME = "NotoSansJP"
FONT_PATH = Path(settings.BASE_DIR) / "static" / "vendor" / "fonts" / "noto-sans-jp" / "NotoSansJP-Regular.ttf"
_font_lock = threading.Lock()


def register_font() -> None:
    with _font_lock:
        if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_PATH)))


def _date(value, language: str, zone) -> str:
    local = timezone.localtime(value, zone)
    if language == "ja":
        return f"{local.year}年{local.month}月{local.day}日"
    return local.strftime("%-d %B %Y")


def _fit(c: canvas.Canvas, text: str, size: float, width: float) -> float:
    """The largest font size ≤ ``size`` at which ``text`` fits ``width``."""
    while size > 8 and pdfmetrics.stringWidth(text, FONT_NAME, size) > width:
        size -= 1
    return size


def certificate_pdf(*, certificate: Certificate, language: str, verify_url: str) -> bytes:
    """The certificate as PDF bytes, in ``language`` ("ja" or "en")."""
    register_font()
    tenant = certificate.tenant
    zone = tenant.zoneinfo
    buffer = io.BytesIO()
    width, height = landscape(A4)
    c = canvas.Canvas(buffer, pagesize=(width, height), pageCompression=1)
    with translation.override(language):
        holder = certificate.holder.get_full_name()
        name = certificate.certification.name
        c.setTitle(f"{_('Certificate')} — {name} — {holder}")
        c.setAuthor(tenant.name)
        c.setFillColor(colors.HexColor("#fbfaf7"))
        c.rect(0, 0, width, height, stroke=0, fill=1)
        c.setStrokeColor(colors.HexColor("#1f4e79"))
        c.setLineWidth(3)
        c.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm, stroke=1, fill=0)
        c.setLineWidth(0.8)
        c.rect(16 * mm, 16 * mm, width - 32 * mm, height - 32 * mm, stroke=1, fill=0)
        c.setFillColor(colors.HexColor("#1f4e79"))
        c.setFont(FONT_NAME, 14)
        c.drawCentredString(width / 2, height - 38 * mm, tenant.name)
        c.setFont(FONT_NAME, 34)
        c.drawCentredString(width / 2, height - 58 * mm, _("Certificate"))
        c.setFillColor(colors.black)
        c.setFont(FONT_NAME, 13)
        c.drawCentredString(width / 2, height - 76 * mm, _("This certifies that"))
        size = _fit(c, holder, 28, width - 60 * mm)
        c.setFont(FONT_NAME, size)
        c.drawCentredString(width / 2, height - 92 * mm, holder)
        c.setFont(FONT_NAME, 13)
        c.drawCentredString(width / 2, height - 106 * mm, _("has met every requirement of"))
        size = _fit(c, name, 22, width - 60 * mm)
        c.setFont(FONT_NAME, size)
        c.drawCentredString(width / 2, height - 120 * mm, name)
        c.setFont(FONT_NAME, 11)
        dates = _("Issued %(issued)s · valid until %(expires)s") % {
            "issued": _date(certificate.issued_at, language, zone),
            "expires": _date(certificate.expires_at, language, zone),
        }
        c.drawCentredString(width / 2, height - 138 * mm, dates)
        c.setFont(FONT_NAME, 9)
        c.setFillColor(colors.HexColor("#444444"))
        c.drawString(24 * mm, 26 * mm, _("Verify this certificate: %(url)s") % {"url": verify_url})
        c.drawString(24 * mm, 21 * mm, _("Verification code: %(code)s") % {"code": certificate.code})
    c.showPage()
    c.save()
    return buffer.getvalue()
