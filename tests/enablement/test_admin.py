"""Enablement admin: scoped to the tenant; the activity log is read-only; uploads are checked."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from enablement.models import ActivityEvent, Asset, DocumentVersion
from tests import factories as f
from tests.enablement.conftest import PDF_BYTES

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(tenant_a, tenant_b):
    with scope(tenant=tenant_a.pk):
        own = f.ActivityEventFactory(tenant=tenant_a, verb="faq.searched", query="own-query")
    with scope(tenant=tenant_b.pk):
        other = f.ActivityEventFactory(tenant=tenant_b, verb="faq.searched", query="other-query")
    return own, other


def test_activity_log_admin_is_read_only_and_scoped(client, admin_a, logged):
    own, other = logged
    client.force_login(admin_a.user)
    changelist = client.get(reverse("admin:enablement_activityevent_changelist"))
    assert changelist.status_code == 200
    html = changelist.content.decode()
    assert "own-query" in html and "other-query" not in html
    assert client.get(reverse("admin:enablement_activityevent_add")).status_code == 403
    assert client.get(reverse("admin:enablement_activityevent_delete", args=[own.pk])).status_code == 403
    detail = client.get(reverse("admin:enablement_activityevent_change", args=[own.pk]))
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    post = client.post(reverse("admin:enablement_activityevent_change", args=[own.pk]), {"query": "x"})
    assert post.status_code == 403
    other_detail = client.get(reverse("admin:enablement_activityevent_change", args=[other.pk]))
    assert other_detail.status_code in (302, 404)


def test_asset_admin_adds_a_checked_document_version(client, admin_a):
    tenant = admin_a.tenant
    with scope(tenant=tenant.pk):
        asset = f.AssetFactory(tenant=tenant, kind="document", title="カタログ")
    client.force_login(admin_a.user)
    url = reverse("admin:enablement_asset_change", args=[asset.pk])
    form = {
        "kind": "document", "title": "カタログ", "language": "ja", "status": "published", "tags": "B, a",
        "duration_seconds": 0, "completion_threshold": 90, "body": "", "description": "",
        "category": "", "external_id": "", "video_url": "", "completion_requires": "view",
        "documentversion_set-TOTAL_FORMS": 0, "documentversion_set-INITIAL_FORMS": 0,
        "versions-TOTAL_FORMS": 0, "versions-INITIAL_FORMS": 0,
    }
    bad = client.post(url, {**form, "new_version": SimpleUploadedFile("製品.pdf.exe", b"MZ...")})
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    ok = client.post(url, {**form, "new_version": SimpleUploadedFile("製品カタログ.pdf", PDF_BYTES), "new_version_note": "初版"})
    assert ok.status_code == 302, ok.content.decode()[:3000]
    with scope(tenant=tenant.pk):
        (version,) = DocumentVersion.objects.filter(asset=asset)
        assert (version.original_name, version.version, version.note) == ("製品カタログ.pdf", 1, "初版")
        asset.refresh_from_db()
        assert asset.tags == ",a,b," and asset.published_at is not None


def test_admin_cannot_create_events(client, admin_a):
    client.force_login(admin_a.user)
    client.post(reverse("admin:enablement_activityevent_add"), {"verb": "portal.login"})
    with scopes_disabled():
        assert not ActivityEvent.objects.exists()
        assert Asset.objects.count() == 0


def test_faq_synonym_and_question_admin_are_scoped(client, admin_a, tenant_b):
    from enablement.models import FaqQuestion, FaqSynonym

    with scope(tenant=tenant_b.pk):
        FaqSynonym.objects.create(tenant=tenant_b, terms="globex-word, other-word")
        partner_b = f.PartnerFactory(tenant=tenant_b)
        FaqQuestion.objects.create(tenant=tenant_b, partner=partner_b, query="q", message="globex-question")
    client.force_login(admin_a.user)
    assert "globex-word" not in client.get(reverse("admin:enablement_faqsynonym_changelist")).content.decode()
    assert "globex-question" not in client.get(reverse("admin:enablement_faqquestion_changelist")).content.decode()
    bad = client.post(reverse("admin:enablement_faqsynonym_add"), {"terms": "値引き"})
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    assert client.post(reverse("admin:enablement_faqsynonym_add"), {"terms": "値引き、割引"}).status_code == 302
    with scope(tenant=admin_a.tenant_id):
        assert FaqSynonym.objects.get(tenant=admin_a.tenant).terms == "値引き, 割引"
