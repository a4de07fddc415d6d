"""Upload validation: by content, size limit, double extensions, path tricks; nothing half-written."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from enablement import uploads
from enablement.models import Asset, AssetKind, DocumentVersion
from enablement.services import catalog
from tests import factories as f
from tests.content.files import EXE, JPEG, MP4, PDF, PNG, WEBM, media_files, ooxml, plain_zip, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_messages():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("deck.pdf", PDF),
        ("提案書.pdf", PDF),
        ("slides.pptx", ooxml("ppt/")),
        ("memo.docx", ooxml("word/")),
        ("sheet.xlsx", ooxml("xl/")),
        ("bundle.zip", plain_zip()),
        ("logo.png", PNG),
        ("photo.jpg", JPEG),
        ("photo.JPEG", JPEG),
        ("v1.2 plan.pdf", PDF),
    ],
)
def test_accepted_documents(name, content):
    checked = uploads.validate_upload(upload(name, content), kind=uploads.DOCUMENT)
    assert checked.original_name == name
    assert checked.size == len(content)
    assert len(checked.sha256) == 64


@pytest.mark.parametrize(("name", "content"), [("intro.mp4", MP4), ("intro.webm", WEBM)])
def test_accepted_videos(name, content):
    assert uploads.validate_upload(upload(name, content), kind=uploads.VIDEO).extension == name.rsplit(".")[-1]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("report.pdf", EXE),  # right extension, wrong content
        ("report.pdf", PNG),  # another allowed type under the wrong name
        ("slides.pptx", plain_zip()),  # a zip without the PowerPoint parts
        ("slides.pptx", ooxml("word/")),  # a Word file renamed to .pptx
        ("logo.png", JPEG),
        ("sheet.xlsx", PDF),
    ],
)
def test_wrong_content_is_rejected(name, content):
    with pytest.raises(ValidationError) as exc:
        uploads.validate_upload(upload(name, content), kind=uploads.DOCUMENT)
    assert exc.value.code == "type_mismatch"
    assert "content" in exc.value.messages[0]


def test_video_content_checked():
    with pytest.raises(ValidationError):
        uploads.validate_upload(upload("intro.mp4", PDF), kind=uploads.VIDEO)
    with pytest.raises(ValidationError) as exc:
        uploads.validate_upload(upload("intro.pdf", PDF), kind=uploads.VIDEO)
    assert exc.value.code == "type_not_allowed"


def test_not_allowed_extension():
    with pytest.raises(ValidationError) as exc:
        uploads.validate_upload(upload("tool.exe", EXE), kind=uploads.DOCUMENT)
    assert exc.value.code == "type_not_allowed"
    assert ".exe" in exc.value.messages[0]


def test_too_large_names_the_limit(settings):
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    with pytest.raises(ValidationError) as exc:
        uploads.validate_upload(upload("big.pdf", PDF + b"0" * (2 * 1024 * 1024)), kind=uploads.DOCUMENT)
    assert exc.value.code == "too_large"
    assert "1 MB" in exc.value.messages[0]


@pytest.mark.parametrize("name", ["report.pdf.exe", "x.php.pdf", "invoice.exe.pdf", "a.html.png"])
def test_double_extensions_are_rejected(name):
    with pytest.raises(ValidationError) as exc:
        uploads.validate_upload(upload("placeholder.pdf", PDF), kind=uploads.DOCUMENT, name=name)
    assert exc.value.code in {"name_double_extension", "type_not_allowed"}
    if name.endswith((".pdf", ".png")):
        assert exc.value.code == "name_double_extension"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("../../etc/passwd.pdf", "name_path"),
        ("/etc/report.pdf", "name_path"),
        ("..\\..\\report.pdf", "name_path"),
        ("C:report.pdf", "name_path"),
        ("report\x00.pdf", "name_control"),
        ("rep\nort.pdf", "name_control"),
        ("re\u202eport.pdf", "name_control"),  # right-to-left override
        ("..pdf", "name_path"),
        (".pdf", "name_extension"),
        ("noextension", "name_extension"),
    ],
)
def test_path_tricks_are_rejected(name, code):
    with pytest.raises(ValidationError) as exc:
        uploads.validate_upload(upload("placeholder.pdf", PDF), kind=uploads.DOCUMENT, name=name)
    assert exc.value.code == code
    assert exc.value.messages[0]


class TestServices:
    def test_document_create_stores_random_name_and_keeps_original(self, scope_a, manager_a, settings):
        asset = catalog.asset_create(
            tenant=scope_a, actor=manager_a.user, kind=AssetKind.DOCUMENT, title="提案書",
            document_file=upload("販売提案書 2026.pdf", PDF),
        )
        v = DocumentVersion.objects.get(asset=asset)
        assert v.version == 1 and v.original_name == "販売提案書 2026.pdf"
        assert v.size == len(PDF) and v.content_type == "application/pdf"
        assert "販売" not in v.file.name and v.file.name.startswith(f"t{scope_a.pk}/documentversion/")
        assert (settings.MEDIA_ROOT / v.file.name).read_bytes() == PDF

    @pytest.mark.parametrize("name", ["../../x.pdf", "x.php.pdf", "r\x00.pdf"])
    def test_service_rejects_bad_names_and_writes_nothing(self, scope_a, manager_a, settings, name):
        with pytest.raises(ValidationError):
            catalog.asset_create(
                tenant=scope_a, actor=manager_a.user, kind=AssetKind.DOCUMENT, title="x",
                document_file=upload("x.pdf", PDF), document_name=name,
            )
        assert not Asset.objects.exists() and not DocumentVersion.objects.exists()
        assert media_files(settings.MEDIA_ROOT) == []

    def test_failure_after_storing_removes_the_file(self, scope_a, manager_a, settings, monkeypatch):
        asset = f.AssetFactory(tenant=scope_a, kind=AssetKind.DOCUMENT)

        def boom(*args, **kwargs):
            raise RuntimeError("disk full while writing the row")

        monkeypatch.setattr(DocumentVersion, "save", boom)
        with pytest.raises(RuntimeError):
            catalog.document_version_add(tenant=scope_a, actor=manager_a.user, asset=asset, file=upload("a.pdf", PDF))
        assert media_files(settings.MEDIA_ROOT) == []
        monkeypatch.undo()
        assert not DocumentVersion.objects.exists()


class TestUploadViews:
    def url(self, kind="document"):
        return reverse("manage-asset-new", kwargs={"tenant_slug": "acme"}) + f"?kind={kind}"

    def post_document(self, client, name, content):
        return client.post(
            self.url(), {"kind": "document", "title": "Deck", "language": "ja", "file": upload(name, content)}
        )

    @pytest.mark.parametrize(
        ("name", "content", "message"),
        [
            ("deck.pdf", EXE, "content"),
            ("deck.pdf.exe", EXE, ".exe"),
            ("deck.php.pdf", PDF, "Double extensions"),
        ],
    )
    def test_rejected_upload_shows_error_and_leaves_nothing(self, client, login, manager_a, settings, name, content, message):
        _english(manager_a)
        login(manager_a)
        response = self.post_document(client, name, content)
        assert response.status_code == 200
        assert message in response.content.decode()
        assert media_files(settings.MEDIA_ROOT) == []
        with _scope(manager_a.tenant_id):
            assert not Asset.objects.exists()

    def test_too_large_upload_message(self, client, login, manager_a, settings):
        settings.UPLOAD_MAX_BYTES = 1024 * 1024
        login(manager_a)
        response = self.post_document(client, "big.pdf", PDF + b"0" * (1024 * 1024 + 10))
        body = response.content.decode()
        assert response.status_code == 200 and "1 MB" in body
        assert media_files(settings.MEDIA_ROOT) == []

    def test_path_in_name_is_reduced_to_the_base_name(self, client, login, manager_a, settings):
        """Django strips the path of an uploaded file's name before our code sees it; the stored name is random."""
        login(manager_a)
        response = self.post_document(client, "../../evil.pdf", PDF)
        assert response.status_code == 302
        with _scope(manager_a.tenant_id):
            v = DocumentVersion.objects.get()
        assert v.original_name == "evil.pdf"
        files = media_files(settings.MEDIA_ROOT)
        assert len(files) == 1 and files[0].resolve().is_relative_to(settings.MEDIA_ROOT.resolve())


def _scope(tenant_id):
    from django_scopes import scope

    return scope(tenant=tenant_id)


def _english(membership):
    membership.user.language = "en"
    membership.user.save(update_fields=["language"])
