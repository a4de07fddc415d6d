"""The PDF certificate: a real PDF, the Japanese font embedded, the Japanese text extractable, a
page that renders to a non-blank image (poppler-utils: pdffonts, pdftotext, pdftoppm)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse
from django_scopes import scope
from PIL import Image

from enablement.certifications.pdf import certificate_pdf
from tests import factories as f
from tests.certifications.conftest import T0, complete, evaluate

pytestmark = pytest.mark.django_db


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} (poppler-utils) is required for this test"
    return path


@pytest.fixture
def japanese_certificate(tenant_a, admin_a, make_member):
    from enablement.certifications import services

    member = make_member(tenant_a, "partner_user", user=f.UserFactory(name="山田 太郎", email="yamada@acme.test"))
    with scope(tenant=tenant_a.pk):
        asset = f.AssetFactory(tenant=tenant_a, title="製品概要")
        services.certification_create(tenant=tenant_a, actor=admin_a.user, name="さくら認定セールス",
                                      required_assets=[asset])
    complete(member, asset, T0)
    [cert] = evaluate(tenant_a)
    return member, cert


def test_japanese_pdf_embeds_the_font_and_renders(japanese_certificate, tmp_path: Path):
    member, cert = japanese_certificate
    with scope(tenant=cert.tenant_id):
        body = certificate_pdf(certificate=cert, language="ja", verify_url="https://example.test/verify/x/")
    assert body.startswith(b"%PDF-")
    pdf = tmp_path / "c.pdf"
    pdf.write_bytes(body)
    fonts = subprocess.run([_tool("pdffonts"), str(pdf)], capture_output=True, text=True, check=True).stdout
    row = next(line for line in fonts.splitlines() if "NotoSansJP" in line)
    assert row.split()[-5] == "yes", fonts  # the "emb" column
    text = subprocess.run([_tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "山田 太郎" in text and "さくら認定セールス" in text and "認定証" in text
    assert "2026年3月2日" in text and "2028年3月2日" in text  # 24 months' validity  # dates in Japanese, the tenant's time zone
    subprocess.run([_tool("pdftoppm"), "-png", "-r", "40", "-singlefile", str(pdf), str(tmp_path / "page")],
                   check=True)
    image = Image.open(tmp_path / "page.png").convert("L")
    lo, hi = image.getextrema()
    assert hi - lo > 100  # text and frame on the background, not a blank page
    dark = sum(image.histogram()[:128])
    assert dark > 200


def test_english_pdf(japanese_certificate, tmp_path: Path):
    member, cert = japanese_certificate
    with scope(tenant=cert.tenant_id):
        body = certificate_pdf(certificate=cert, language="en", verify_url="https://example.test/verify/x/")
    pdf = tmp_path / "c.pdf"
    pdf.write_bytes(body)
    text = subprocess.run([_tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Certificate" in text and "山田 太郎" in text and "2 March 2026" in text


def test_portal_download_own_only(client, japanese_certificate, tenant_a, tenant_b, make_member, partner_user_b):
    member, cert = japanese_certificate
    url = reverse("portal-certificate-pdf", kwargs={"tenant_slug": tenant_a.slug, "certificate_id": cert.pk})
    client.force_login(member.user)
    response = client.get(url + "?lang=ja")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    # a colleague at the same partner cannot download it
    colleague = make_member(tenant_a, "partner_user", partner=member.partner)
    client.force_login(colleague.user)
    assert client.get(url).status_code == 404
    # another tenant's user: the tenant URL itself is 404, and so is the id under their own tenant
    client.force_login(partner_user_b.user)
    assert client.get(url).status_code == 404
    own = reverse("portal-certificate-pdf", kwargs={"tenant_slug": tenant_b.slug, "certificate_id": cert.pk})
    assert client.get(own).status_code == 404
