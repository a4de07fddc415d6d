"""Packaged courses in the browser: a manager uploads a real SCORM package, a partner user launches
it, the content runs with an opaque origin (no portal cookie), pages are bookmarked, a reload resumes
at the bookmark, and finishing completes the training on the server."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scope

from enablement.models import ActivityEvent, AssetKind, AssetStatus, Verb
from enablement.packages import samples
from enablement.packages.models import Attempt
from enablement.packages.services import package_upload
from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, member, landing):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", member.user.email)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(landing)


@pytest.mark.parametrize(
    ("builder", "standard"), [(samples.scorm12_package, "SCORM 1.2"), (samples.scorm2004_package, "SCORM 2004")]
)
def test_upload_launch_resume_complete(live_server, tenant_a, manager_a, partner_user_a, tmp_path, builder, standard):
    tenant = tenant_a
    with scope(tenant=tenant.pk):
        training = f.AssetFactory(tenant=tenant, kind=AssetKind.TRAINING, title="パッケージ研修", status=AssetStatus.PUBLISHED)
    zip_path = tmp_path / "course.zip"
    zip_path.write_bytes(builder(title="Sample course"))
    slug = standard.replace(" ", "").replace(".", "")

    # The manager uploads the zip on the training's package page.
    with open_page(locale="ja-JP") as (page, errors, external):
        _login(page, live_server, manager_a, f"{live_server.url}/t/{tenant.slug}/manage/")
        page.goto(f"{live_server.url}/t/{tenant.slug}/manage/assets/{training.pk}/package/")
        page.set_input_files("input[name=file]", str(zip_path))
        page.click("form.card button[type=submit]")
        page.wait_for_selector("[data-package-meta]")
        assert standard in page.inner_text("[data-package-meta]")
        page.screenshot(path=str(SHOTS / f"package_manage_{slug}.png"), full_page=True)
        assert errors == [] and external == []

    # The partner user launches it from the training's portal page.
    with open_page(locale="ja-JP") as (page, errors, external):
        base = f"{live_server.url}/t/{tenant.slug}/portal"
        _login(page, live_server, partner_user_a, f"{base}/")
        page.goto(f"{base}/trainings/{training.pk}/")
        page.wait_for_url(f"{base}/packages/{training.pk}/")
        course = page.frame_locator("[data-package-frame]")
        course.locator("#status").filter(has_text="ready").wait_for()
        # Opaque origin: the course cannot read the portal's cookies.
        assert course.locator("#origin").inner_text() == "null"
        assert course.locator("#cookie").inner_text() == "blocked"
        assert course.locator("#entry").inner_text() == "ab-initio"
        with page.expect_response(lambda r: r.url.endswith("/commit/") and r.status == 200):
            course.locator("#next").click()
        page.screenshot(path=str(SHOTS / f"package_launch_{slug}.png"), full_page=True)

        # Reload: the course resumes on page 2 with its suspend data.
        page.reload()
        course = page.frame_locator("[data-package-frame]")
        course.locator("#status").filter(has_text="ready").wait_for()
        assert course.locator("#pos").inner_text() == "2 / 3"
        assert course.locator("#entry").inner_text() == "resume"
        with page.expect_response(lambda r: r.url.endswith("/commit/") and r.status == 200):
            course.locator("#next").click()
        with page.expect_response(lambda r: r.url.endswith("/commit/") and r.json().get("completed") is True):
            course.locator("#finish").click()
        page.wait_for_selector("[data-package-status][data-completed='1']")
        assert page.inner_text("[data-package-score]").endswith("90")
        page.screenshot(path=str(SHOTS / f"package_completed_{slug}.png"), full_page=True)
        assert external == []
        assert [e for e in errors if "favicon" not in e] == []

    with scope(tenant=tenant.pk):
        attempt = Attempt.objects.get(tenant=tenant, user=partner_user_a.user)
        assert attempt.completed_at is not None and attempt.score_raw == 90
        assert attempt.launches == 2
        verbs = list(
            ActivityEvent.objects.filter(tenant=tenant, asset=training, user=partner_user_a.user).values_list("verb", flat=True)
        )
    assert verbs.count(Verb.TRAINING_STARTED) == 1
    assert verbs.count(Verb.TRAINING_COMPLETED) == 1
    assert verbs.count(Verb.TRAINING_PROGRESSED) >= 3


def test_cmi5_au_launched_through_the_lrs_and_completed(live_server, tenant_a, partner_user_a, tmp_path):
    """A cmi5 AU built by the suite: in the sandboxed frame it POSTs the fetch URL, reads
    LMS.LaunchData, sends initialized / completed / passed / terminated with plain fetch() to the
    LRS endpoint (cross-origin, token in the Authorization header); the training counts as completed."""
    tenant = tenant_a
    with scope(tenant=tenant.pk):
        training = f.AssetFactory(tenant=tenant, kind=AssetKind.TRAINING, title="cmi5 研修", status=AssetStatus.PUBLISHED)
        package_upload(tenant=tenant, actor=None, asset=training,
                       file=SimpleUploadedFile("au.zip", samples.cmi5_package(title="cmi5 course"), "application/zip"))
    with open_page(locale="ja-JP") as (page, errors, external):
        base = f"{live_server.url}/t/{tenant.slug}/portal"
        _login(page, live_server, partner_user_a, f"{base}/")
        page.goto(f"{base}/trainings/{training.pk}/")
        page.wait_for_url(f"{base}/packages/{training.pk}/")
        course = page.frame_locator("[data-package-frame]")
        course.locator("#status").filter(has_text="ready").wait_for()
        assert course.locator("#origin").inner_text() == "null"
        assert course.locator("#cookie").inner_text() == "blocked"
        assert course.locator("#moveon").inner_text() == "CompletedOrPassed"
        page.screenshot(path=str(SHOTS / "package_launch_cmi5.png"), full_page=True)
        course.locator("#finish").click()
        course.locator("#status").filter(has_text="finished").wait_for()
        page.reload()
        page.wait_for_selector("[data-package-status] .badge-ok")
        assert "90" in page.inner_text("[data-package-score]")
        page.screenshot(path=str(SHOTS / "package_completed_cmi5.png"), full_page=True)
        assert external == []
        assert [e for e in errors if "favicon" not in e] == []

    with scope(tenant=tenant.pk):
        attempt = Attempt.objects.get(tenant=tenant, user=partner_user_a.user)
        assert attempt.completed_at is not None and attempt.score_raw == 90 and attempt.success_status == "passed"
        verbs = list(
            ActivityEvent.objects.filter(tenant=tenant, asset=training, user=partner_user_a.user).values_list("verb", flat=True)
        )
    assert verbs.count(Verb.TRAINING_STARTED) == 1
    assert verbs.count(Verb.TRAINING_COMPLETED) == 1
    assert verbs.count(Verb.TRAINING_PROGRESSED) == 3
