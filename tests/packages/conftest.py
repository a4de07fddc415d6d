from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scope

from enablement.models import AssetKind, AssetStatus
from tests import factories as f


def upload(data: bytes, name: str = "course.zip") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/zip")


@pytest.fixture
def training_a(tenant_a):
    with scope(tenant=tenant_a.pk):
        return f.AssetFactory(tenant=tenant_a, kind=AssetKind.TRAINING, title="Course A", status=AssetStatus.PUBLISHED)


@pytest.fixture
def training_b(tenant_b):
    with scope(tenant=tenant_b.pk):
        return f.AssetFactory(tenant=tenant_b, kind=AssetKind.TRAINING, title="Course B", status=AssetStatus.PUBLISHED)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
