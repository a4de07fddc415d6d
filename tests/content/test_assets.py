"""Asset management pages: create per kind, versions, publish/archive, roles and tenants."""

import pytest
from django.urls import reverse
from django_scopes import scope

from enablement.models import Asset, AssetKind, AssetStatus, DocumentVersion, FaqRelatedAsset
from enablement.services import catalog
from tests import factories as f
from tests.content.files import MP4, PDF, ooxml, upload

pytestmark = pytest.mark.django_db


def u(name, **kwargs):
    return reverse(name, kwargs={"tenant_slug": "acme", **kwargs})


def test_create_training_with_video_upload(client, login, manager_a, settings):
    login(manager_a)
    response = client.post(
        u("manage-asset-new") + "?kind=training",
        {"kind": "training", "title": "製品概要", "language": "ja", "duration_seconds": 300,
         "completion_threshold": 80, "video_file": upload("intro.mp4", MP4), "tags": "Basics, 入門"},
    )
    assert response.status_code == 302
    with scope(tenant=manager_a.tenant_id):
        asset = Asset.objects.get()
    assert asset.kind == "training" and asset.status == AssetStatus.DRAFT and asset.completion_threshold == 80
    assert asset.video_file.name.endswith(".mp4") and asset.tag_list == ["basics", "入門"]
    assert (settings.MEDIA_ROOT / asset.video_file.name).read_bytes() == MP4


def test_training_needs_video_or_url(client, login, manager_a):
    login(manager_a)
    response = client.post(u("manage-asset-new") + "?kind=training", {"kind": "training", "title": "x", "language": "ja",
                                                                         "duration_seconds": 1, "completion_threshold": 90})
    assert response.status_code == 200
    with scope(tenant=manager_a.tenant_id):
        assert not Asset.objects.exists()


def test_faq_with_related_assets(client, login, manager_a):
    with scope(tenant=manager_a.tenant_id):
        doc = f.AssetFactory(tenant=manager_a.tenant, kind=AssetKind.DOCUMENT, title="Price list")
    login(manager_a)
    response = client.post(
        u("manage-asset-new") + "?kind=faq",
        {"kind": "faq", "title": "How do I register a deal?", "body": "Use **Deals**.", "language": "en",
         "related_assets": [doc.pk]},
    )
    assert response.status_code == 302
    with scope(tenant=manager_a.tenant_id):
        faq = Asset.objects.get(kind="faq")
        assert faq.body == "Use **Deals**."
        assert list(FaqRelatedAsset.objects.filter(faq=faq).values_list("asset_id", flat=True)) == [doc.pk]


def test_new_document_version_keeps_the_old_one(client, login, manager_a, settings):
    login(manager_a)
    client.post(u("manage-asset-new") + "?kind=document",
                {"kind": "document", "title": "Deck", "language": "ja", "file": upload("deck.pdf", PDF)})
    with scope(tenant=manager_a.tenant_id):
        asset = Asset.objects.get()
    response = client.post(u("manage-asset-version-new", asset_id=asset.pk),
                           {"file": upload("deck v2.pptx", ooxml("ppt/")), "note": "new prices"})
    assert response.status_code == 302
    with scope(tenant=manager_a.tenant_id):
        versions = list(DocumentVersion.objects.filter(asset=asset).order_by("version"))
    assert [(v.version, v.original_name) for v in versions] == [(1, "deck.pdf"), (2, "deck v2.pptx")]
    assert all((settings.MEDIA_ROOT / v.file.name).exists() for v in versions)
    page = client.get(u("manage-asset-version-new", asset_id=asset.pk)).content.decode()
    assert "deck.pdf" in page and "deck v2.pptx" in page and "new prices" in page
    download = client.get(u("manage-asset-version-download", asset_id=asset.pk, version_id=versions[0].pk))
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    assert "deck.pdf" in download["Content-Disposition"]


def test_publish_and_archive(client, login, manager_a):
    with scope(tenant=manager_a.tenant_id):
        asset = f.AssetFactory(tenant=manager_a.tenant, status=AssetStatus.DRAFT, published_at=None)
    login(manager_a)
    assert client.get(u("manage-asset-publish", asset_id=asset.pk)).status_code == 405
    client.post(u("manage-asset-publish", asset_id=asset.pk))
    f.refresh(asset)
    assert asset.status == AssetStatus.PUBLISHED and asset.published_at is not None
    client.post(u("manage-asset-archive", asset_id=asset.pk))
    f.refresh(asset)
    assert asset.status == AssetStatus.ARCHIVED


def test_document_without_file_cannot_be_published(scope_a, manager_a):
    asset = f.AssetFactory(tenant=scope_a, kind=AssetKind.DOCUMENT, status=AssetStatus.DRAFT)
    with pytest.raises(Exception, match="Upload a file"):
        catalog.asset_publish(tenant=scope_a, actor=manager_a.user, asset=asset)


def test_edit_asset(client, login, manager_a):
    with scope(tenant=manager_a.tenant_id):
        asset = f.AssetFactory(tenant=manager_a.tenant, kind=AssetKind.TRAINING, video_url="https://example.com/v.mp4")
    login(manager_a)
    response = client.post(u("manage-asset-edit", asset_id=asset.pk), {
        "title": "Renamed", "language": "en", "video_url": "https://example.com/v.mp4", "duration_seconds": 60,
        "completion_threshold": 75})
    assert response.status_code == 302
    f.refresh(asset)
    assert asset.title == "Renamed" and asset.completion_threshold == 75


def test_list_filters_and_search(client, login, manager_a):
    with scope(tenant=manager_a.tenant_id):
        team = f.TeamFactory(tenant=manager_a.tenant, name="Marketing")
        f.AssetFactory(tenant=manager_a.tenant, title="Alpha training", team=team)
        f.AssetFactory(tenant=manager_a.tenant, title="Beta FAQ", kind=AssetKind.FAQ)
    login(manager_a)
    body = client.get(u("manage-assets"), {"q": "alpha"}).content.decode()
    assert "Alpha training" in body and "Beta FAQ" not in body
    body = client.get(u("manage-assets"), {"kind": "faq"}, headers={"HX-Request": "true"}).content.decode()
    assert "Beta FAQ" in body and "Alpha training" not in body and "<html" not in body
    body = client.get(u("manage-assets"), {"team": team.pk}).content.decode()
    assert "Alpha training" in body and "Beta FAQ" not in body


def test_manager_of_a_cannot_edit_bs_asset(client, login, manager_a, tenant_b):
    with scope(tenant=tenant_b.pk):
        foreign = f.AssetFactory(tenant=tenant_b, kind=AssetKind.DOCUMENT, title="Globex secret")
    login(manager_a)
    for name in ["manage-asset-edit", "manage-asset-version-new"]:
        assert client.get(u(name, asset_id=foreign.pk)).status_code == 404
    for name in ["manage-asset-publish", "manage-asset-archive"]:
        assert client.post(u(name, asset_id=foreign.pk)).status_code == 404
    response = client.post(u("manage-asset-edit", asset_id=foreign.pk), {"title": "hijacked", "language": "en"})
    assert response.status_code == 404
    f.refresh(foreign)
    assert foreign.title == "Globex secret"


def _all_manage_urls(tenant, ids):
    names = [
        ("manage-assets", {}), ("manage-asset-new", {}), ("manage-asset-edit", {"asset_id": ids["asset"]}),
        ("manage-asset-version-new", {"asset_id": ids["asset"]}),
        ("manage-asset-version-download", {"asset_id": ids["asset"], "version_id": ids["version"]}),
        ("manage-assignments", {}), ("manage-assignment-new", {}), ("manage-paths", {}), ("manage-path-new", {}),
        ("manage-path-edit", {"path_id": ids["path"]}),
        ("manage-support-activities", {"partner_id": ids["partner"]}), ("manage-partner-admin", {}),
        ("manage-partner-new", {}), ("manage-partner-edit", {"partner_id": ids["partner"]}), ("manage-member-invite", {}),
    ]
    post_names = [
        ("manage-asset-publish", {"asset_id": ids["asset"]}), ("manage-asset-archive", {"asset_id": ids["asset"]}),
        ("manage-assignment-deactivate", {"assignment_id": ids["assignment"]}),
    ]
    get = [reverse(n, kwargs={"tenant_slug": tenant.slug, **kw}) for n, kw in names]
    post = [reverse(n, kwargs={"tenant_slug": tenant.slug, **kw}) for n, kw in post_names]
    return get, post


@pytest.fixture
def objects_a(tenant_a, admin_a):
    with scope(tenant=tenant_a.pk):
        asset = catalog.asset_create(tenant=tenant_a, actor=admin_a.user, kind="document", title="Doc",
                                      document_file=upload("d.pdf", PDF))
        path = f.LearningPathItemFactory(tenant=tenant_a, path__tenant=tenant_a, asset=asset).path
        assignment = f.AssignmentFactory(tenant=tenant_a, asset=asset)
        return {"asset": asset.pk, "version": asset.versions.get().pk, "path": path.pk,
                "partner": assignment.partner_id, "assignment": assignment.pk}


def test_every_page_works_for_admin(client, login, admin_a, objects_a, tenant_a):
    login(admin_a)
    get, _post = _all_manage_urls(tenant_a, objects_a)
    for url in get:
        assert client.get(url).status_code == 200, url


def test_partner_user_gets_403_everywhere(client, login, partner_user_a, objects_a, tenant_a):
    login(partner_user_a)
    get, post = _all_manage_urls(tenant_a, objects_a)
    for url in get:
        assert client.get(url).status_code == 403, url
    for url in post + get:
        assert client.post(url).status_code == 403, url


def test_other_tenant_manager_gets_404_everywhere(client, login, manager_b, admin_b, objects_a, tenant_a):
    for member in (manager_b, admin_b):
        login(member)
        get, post = _all_manage_urls(tenant_a, objects_a)
        for url in get:
            assert client.get(url).status_code == 404, url
        for url in post:
            assert client.post(url).status_code == 404, url


def test_ids_of_a_under_bs_slug_are_404(client, login, manager_b, objects_a, tenant_b):
    """Tenant B's manager on B's own pages with A's object ids: not found."""
    login(manager_b)
    get, post = _all_manage_urls(tenant_b, objects_a)
    for url in get:
        if any(str(v) in url for v in objects_a.values()):
            assert client.get(url).status_code == 404, url
    for url in post:
        assert client.post(url).status_code == 404, url


def test_training_with_uploaded_video_edit_and_replace(client, login, manager_a, settings, django_capture_on_commit_callbacks):
    login(manager_a)
    client.post(u("manage-asset-new") + "?kind=training",
                {"kind": "training", "title": "Intro", "language": "en", "duration_seconds": 40,
                 "completion_threshold": 90, "video_file": upload("intro.mp4", MP4)})
    with scope(tenant=manager_a.tenant_id):
        asset = Asset.objects.get()
    old = asset.video_file.name
    assert client.get(u("manage-asset-edit", asset_id=asset.pk)).status_code == 200
    # saving without a new file keeps the video
    data = {"title": "Intro 2", "language": "en", "duration_seconds": 40, "completion_threshold": 90}
    assert client.post(u("manage-asset-edit", asset_id=asset.pk), data).status_code == 302
    f.refresh(asset)
    assert asset.video_file.name == old and asset.title == "Intro 2"
    # replacing it stores the new file and removes the old one after commit
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(u("manage-asset-edit", asset_id=asset.pk), {**data, "video_file": upload("new.mp4", MP4)})
    assert response.status_code == 302
    f.refresh(asset)
    assert asset.video_file.name != old and (settings.MEDIA_ROOT / asset.video_file.name).exists()
    assert not (settings.MEDIA_ROOT / old).exists()
    # a wrong file is refused and the current video stays
    response = client.post(u("manage-asset-edit", asset_id=asset.pk), {**data, "video_file": upload("x.mp4", PDF)})
    assert response.status_code == 200
    f.refresh(asset)
    assert (settings.MEDIA_ROOT / asset.video_file.name).exists()
