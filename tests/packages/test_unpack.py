"""Uploading a package: manifests read per standard, and every malicious zip refused with a clear
message, nothing written outside the package's folder and nothing left behind on failure."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from django_scopes import scope

from enablement.models import AssetKind
from enablement.packages import samples
from enablement.packages.models import Package, Standard
from enablement.packages.services import package_upload
from tests import factories as f
from tests.packages import zips
from tests.packages.conftest import upload


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _upload(tenant, asset, data: bytes, name: str = "course.zip"):
    with scope(tenant=tenant.pk):
        return package_upload(tenant=tenant, actor=None, asset=asset, file=upload(data, name))


@pytest.mark.parametrize(
    ("data", "standard", "edition", "launch"),
    [
        (samples.scorm12_package(), Standard.SCORM12, "1.2", "sco/index.html"),
        (samples.scorm2004_package(), Standard.SCORM2004, "4th Edition", "index.html"),
        (zips.build([("imsmanifest.xml", zips.MANIFEST.replace("2004 4th Edition", "2004 3rd Edition")),
                     ("index.html", zips.SCO)]), Standard.SCORM2004, "3rd Edition", "index.html"),
    ],
)
def test_a_real_package_is_read_and_unpacked_into_its_own_folder(tenant_a, training_a, settings, data, standard, edition, launch):
    package = _upload(tenant_a, training_a, data)
    assert (package.standard, package.edition, package.launch_path) == (standard, edition, launch)
    media = Path(settings.MEDIA_ROOT)
    on_disk = _files(media)
    assert on_disk == {f"{package.folder}/{name}" for name, _size in package.files}
    assert all(p.startswith(f"t{tenant_a.pk}/packages/") for p in on_disk)
    assert package.file_count == len(package.files) and package.total_size == sum(s for _n, s in package.files)
    assert package.version == 1
    again = _upload(tenant_a, training_a, data)
    assert again.version == 2 and again.folder != package.folder


def test_scorm12_mastery_score_and_launch_query_are_read(tenant_a, training_a):
    manifest = zips.MANIFEST.replace('href="index.html"', 'href="index.html?lang=ja"', 1)
    package = _upload(tenant_a, training_a, zips.build([("imsmanifest.xml", manifest), ("index.html", zips.SCO)]))
    assert package.launch_query == "lang=ja"
    assert _upload(tenant_a, training_a, samples.scorm12_package()).mastery_score == 80


MALICIOUS = {
    "traversal": (zips.valid_with(("../evil.html", "x")), "outside the package"),
    "nested traversal": (zips.valid_with(("a/../../evil.html", "x")), "outside the package"),
    "absolute": (zips.valid_with(("/etc/evil.html", "x")), "absolute path"),
    "drive letter": (zips.valid_with(("C:/evil.html", "x")), "absolute path"),
    "backslash": (zips.valid_with(("..\\evil.html", "x")), "backslashes"),
    "symlink": (zips.valid_with(zips.symlink("link.html", "/etc/passwd")), "symbolic link"),
    "encrypted": (zips.mark_encrypted(zips.valid_with(("secret.html", "x")), "secret.html"), "encrypted"),
    "duplicate": (zips.valid_with(("style.css", "again")), "twice"),
    "duplicate by case": (zips.valid_with(("STYLE.css", "again")), "twice"),
    "missing manifest": (zips.build([("index.html", zips.SCO)]), "no imsmanifest.xml"),
    "launch file missing": (zips.build([("imsmanifest.xml", zips.MANIFEST)]), "is not in the zip"),
    "entity expansion": (
        zips.build([("imsmanifest.xml", '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaa">]><manifest>&a;</manifest>'),
                    ("index.html", zips.SCO)]),
        "DTD",
    ),
    "unknown version": (zips.build([("imsmanifest.xml", zips.MANIFEST.replace("2004 4th Edition", "1.1")
                                     .replace("adlcp_v1p3", "other")), ("index.html", zips.SCO)]), "SCORM version"),
    "not a zip": (b"%PDF-1.4 not a zip", "not a valid zip"),
}


@pytest.mark.parametrize("case", list(MALICIOUS))
def test_malicious_zips_are_refused_and_nothing_is_written(tenant_a, training_a, settings, tmp_path, case):
    data, message = MALICIOUS[case]
    media = Path(settings.MEDIA_ROOT)
    with pytest.raises(ValidationError) as exc:
        _upload(tenant_a, training_a, data)
    assert message in " ".join(exc.value.messages)
    assert _files(media) == set()
    assert not (tmp_path / "evil.html").exists() and not Path("/etc/evil.html").exists()
    with scope(tenant=tenant_a.pk):
        assert not Package.objects.filter(tenant=tenant_a).exists()


def test_too_many_files_are_refused_before_unpacking(tenant_a, training_a, settings):
    settings.PACKAGE_MAX_FILES = 5
    data = zips.valid_with(*[(f"p/{i}.txt", "x") for i in range(5)])
    with pytest.raises(ValidationError, match="too many files"):
        _upload(tenant_a, training_a, data)
    assert _files(Path(settings.MEDIA_ROOT)) == set()


def test_declared_total_above_the_cap_is_refused(tenant_a, training_a, settings):
    settings.PACKAGE_MAX_UNPACKED_BYTES = 100_000
    with pytest.raises(ValidationError, match="unpacks to"):
        _upload(tenant_a, training_a, zips.valid_with(("big.bin", b"a" * 200_000)))


def test_zip_bomb_is_stopped_by_the_ratio_cap_and_partial_files_are_removed(tenant_a, training_a, settings):
    # The bomb comes after the real files: they are written first and must be removed again.
    data = zips.valid_with(zips.bomb())
    assert len(data) < 100_000  # 30 MB of zeros in a few dozen kB
    with pytest.raises(ValidationError, match="zip bomb"):
        _upload(tenant_a, training_a, data)
    assert _files(Path(settings.MEDIA_ROOT)) == set()


def test_sizes_in_the_headers_are_not_trusted(tenant_a, training_a, settings):
    """An entry that declares 10 bytes but inflates to 2 MB stops the unpacking."""
    data = zips.lying_sizes(zips.valid_with(("z/payload.bin", b"b" * 2_000_000)), "z/payload.bin", 10)
    with pytest.raises(ValidationError) as exc:
        _upload(tenant_a, training_a, data)
    assert any(word in " ".join(exc.value.messages) for word in ("zip bomb", "cannot be read"))
    assert _files(Path(settings.MEDIA_ROOT)) == set()


def test_cmi5_is_read_and_accepted(tenant_a, training_a, settings):
    from enablement.packages.manifest import parse_cmi5

    manifest = parse_cmi5(samples._CMI5.format(title="t").encode())
    assert (manifest.launch_path, manifest.move_on, manifest.mastery_score) == ("au/index.html", "CompletedOrPassed", 0.8)
    package = _upload(tenant_a, training_a, samples.cmi5_package())
    assert (package.standard, package.launch_path, package.move_on) == ("cmi5", "au/index.html", "CompletedOrPassed")
    assert package.activity_id == "https://shien.example/courses/sample/au1"
    assert {"cmi5.xml", "au/index.html"} <= {name for name, _size in package.files}


def test_only_zip_files_and_only_trainings(tenant_a, training_a):
    with pytest.raises(ValidationError, match=".zip"):
        _upload(tenant_a, training_a, samples.scorm12_package(), name="course.pdf")
    with scope(tenant=tenant_a.pk), pytest.raises(ValidationError, match="path"):
        package_upload(tenant=tenant_a, actor=None, asset=training_a, file=upload(samples.scorm12_package()),
                       original_name="../course.zip")
    with scope(tenant=tenant_a.pk):
        document = f.AssetFactory(tenant=tenant_a, kind=AssetKind.DOCUMENT)
    with pytest.raises(ValidationError, match="Only trainings"):
        _upload(tenant_a, document, samples.scorm12_package())


def test_refusals_are_translated(tenant_a, training_a):
    with translation.override("ja"), pytest.raises(ValidationError) as exc:
        _upload(tenant_a, training_a, zips.valid_with(zips.symlink("link.html", "/etc/passwd")))
    assert exc.value.messages == ["zip のエントリ「link.html」はシンボリックリンクです。リンクは受け付けません。"]
