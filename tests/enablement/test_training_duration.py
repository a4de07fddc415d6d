"""A training's duration is the server's: read from the uploaded video, or set by a manager. A
training whose duration is unknown (0) cannot complete, whatever the player reports."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_scopes import scope

from enablement.models import ActivityEvent, AssetKind, Verb
from enablement.services import catalog
from kpis.health import measurement_health
from tests import factories as f
from tests.content.files import MP4

pytestmark = pytest.mark.django_db


def real_video(tmp_path, seconds: float, ext: str = "mp4") -> bytes:
    """A real, tiny video of ``seconds`` made with the ffmpeg binary that imageio-ffmpeg ships."""
    import imageio_ffmpeg

    out = tmp_path / f"clip.{ext}"
    codec = ["-c:v", "libx264", "-pix_fmt", "yuv420p"] if ext == "mp4" else ["-c:v", "libvpx"]
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
         "-i", f"color=c=blue:s=32x32:d={seconds}", *codec, str(out)],
        check=True, timeout=60,
    )
    return out.read_bytes()


@pytest.mark.parametrize(("ext", "seconds", "expected"), [("mp4", 7.5, 8), ("webm", 3, 3)])
def test_uploaded_video_duration_is_read_by_the_server(tenant_a, manager_a, tmp_path, ext, seconds, expected):
    data = real_video(tmp_path, seconds, ext)
    with scope(tenant=tenant_a.pk):
        asset = catalog.asset_create(
            tenant=tenant_a, actor=manager_a.user, kind=AssetKind.TRAINING, title="Intro",
            video_file=SimpleUploadedFile(f"intro.{ext}", data), duration_seconds=0,
        )
        assert asset.duration_seconds == expected
        # a typed-in length does not override what the file says
        typed = catalog.asset_create(
            tenant=tenant_a, actor=manager_a.user, kind=AssetKind.TRAINING, title="Intro 2",
            video_file=SimpleUploadedFile(f"intro.{ext}", data), duration_seconds=3600,
        )
        assert typed.duration_seconds == expected


def test_replacing_the_video_measures_again(tenant_a, manager_a, tmp_path):
    with scope(tenant=tenant_a.pk):
        asset = catalog.asset_create(
            tenant=tenant_a, actor=manager_a.user, kind=AssetKind.TRAINING, title="Intro",
            video_file=SimpleUploadedFile("a.mp4", real_video(tmp_path, 2)),
        )
        assert asset.duration_seconds == 2
        catalog.asset_update(
            tenant=tenant_a, actor=manager_a.user, asset=asset, video_file=SimpleUploadedFile("b.mp4", real_video(tmp_path, 5))
        )
        asset.refresh_from_db()
        assert asset.duration_seconds == 5


def test_unreadable_video_keeps_the_duration_unknown_and_health_lists_it(tenant_a, manager_a):
    with scope(tenant=tenant_a.pk):
        asset = catalog.asset_create(
            tenant=tenant_a, actor=manager_a.user, kind=AssetKind.TRAINING, title="壊れた動画",
            video_file=SimpleUploadedFile("broken.mp4", MP4),  # passes the magic-byte check, no moov atom
        )
        assert asset.duration_seconds == 0
        health = measurement_health(tenant=tenant_a)
        assert asset in health.untimed_trainings


def _beat(client, asset, token, segments, **extra):
    body = {"event_id": str(uuid.uuid4()), "session": token, "played_segments": segments, "position": 0, **extra}
    url = reverse("portal-training-progress", kwargs={"tenant_slug": "acme", "asset_id": asset.pk})
    return client.post(url, data=json.dumps(body), content_type="application/json").json()


def test_unknown_duration_never_completes_until_a_manager_sets_it(client, login, portal, clock, manager_a):
    tenant = portal["tenant"]
    with scope(tenant=tenant.pk):
        untimed = f.AssetFactory(tenant=tenant, kind=AssetKind.TRAINING, title="長さ不明", duration_seconds=0)
    login(portal["member"])
    response = client.get(reverse("portal-training", kwargs={"tenant_slug": "acme", "asset_id": untimed.pk}))
    token = response.context["play_session"]
    clock.advance(seconds=600)
    # The player claims the video is 10 s long and that it played all of it: not believed.
    result = _beat(client, untimed, token, [[0, 10]], duration=10)
    assert result["completed"] is False and result["duration_unknown"] is True and result["share"] == 0.0
    clock.advance(seconds=600)
    result = _beat(client, untimed, token, [[0, 1200]], duration=1)
    assert result["completed"] is False
    with scope(tenant=tenant.pk):
        assert not ActivityEvent.objects.filter(asset=untimed, verb=Verb.TRAINING_COMPLETED).exists()
        # What was played is still recorded (within the session's budget).
        assert ActivityEvent.objects.filter(asset=untimed, verb=Verb.TRAINING_PROGRESSED).count() == 2
        catalog.asset_update(tenant=tenant, actor=manager_a.user, asset=untimed, duration_seconds=1200)
    clock.advance(seconds=5)
    result = _beat(client, untimed, token, [[0, 1200]])
    assert result["completed"] is True and result["duration_unknown"] is False
