"""Fixtures for the portal tests: a partner user of tenant A with assets of every kind."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from django_scopes import scope

from enablement.models import AssetKind, AssetStatus, DocumentVersion
from tests import factories as f

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def add_version(asset, *, name="資料.pdf", data=PDF_BYTES, version=1):
    with scope(tenant=asset.tenant_id):
        v = DocumentVersion(
            tenant_id=asset.tenant_id,
            asset=asset,
            version=version,
            original_name=name,
            content_type="application/pdf",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        v.file.save(name.encode("ascii", "ignore").decode() or "file.pdf", ContentFile(data), save=False)
        v.save()
        return v


@pytest.fixture
def portal(tenant_a, partner_user_a):
    """Assets of tenant A: a published training, document and FAQ, and a draft nobody is assigned."""
    with scope(tenant=tenant_a.pk):
        training = f.AssetFactory(tenant=tenant_a, kind=AssetKind.TRAINING, title="製品トレーニング", duration_seconds=100)
        document = f.AssetFactory(tenant=tenant_a, kind=AssetKind.DOCUMENT, title="提案資料")
        faq = f.AssetFactory(tenant=tenant_a, kind=AssetKind.FAQ, title="請求書の再発行方法は？", body="管理画面から**再発行**できます。")
        draft = f.AssetFactory(tenant=tenant_a, kind=AssetKind.DOCUMENT, title="社外秘", status=AssetStatus.DRAFT)
    add_version(document)
    add_version(draft, name="secret.pdf")
    return {
        "tenant": tenant_a,
        "member": partner_user_a,
        "partner": partner_user_a.partner,
        "training": training,
        "document": document,
        "faq": faq,
        "draft": draft,
    }


@pytest.fixture
def other_tenant_assets(tenant_b):
    with scope(tenant=tenant_b.pk):
        training = f.AssetFactory(tenant=tenant_b, kind=AssetKind.TRAINING, title="Globex training")
        document = f.AssetFactory(tenant=tenant_b, kind=AssetKind.DOCUMENT, title="Globex deck")
        faq = f.AssetFactory(tenant=tenant_b, kind=AssetKind.FAQ, title="Globex invoice question", body="請求書")
    add_version(document, name="globex.pdf")
    return {"training": training, "document": document, "faq": faq}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class FakeClock:
    """Stands in for ``enablement.services.training.clock``: time moves only when told."""

    def __init__(self, start=None):
        self.now = start or timezone.now()

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    """The play-session clock (trainings and reading sessions), moved by hand: no sleeping."""
    fake = FakeClock()
    monkeypatch.setattr("enablement.services.training.clock", fake)
    return fake
