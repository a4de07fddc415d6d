"""A training video's duration, read by the server from the uploaded file.

The watched share of a training (``enablement.services.training``) is credited against the
asset's ``duration_seconds``; the player's own report of the duration is never trusted. On upload
the duration is read from the file's container with ffmpeg, through the ``imageio-ffmpeg``
package (it ships a static ffmpeg binary, so no system package is needed; ffprobe is not part of
it, and ffmpeg's header probe — ``imageio_ffmpeg.read_frames`` stops after the metadata — is
enough). A video that cannot be read, or a video given only by URL, keeps ``duration_seconds = 0``:
such a training cannot complete until a manager sets the duration, and the measurement-health page
lists it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile

logger = logging.getLogger(__name__)

MAX_SECONDS = 24 * 3600  # longer than a day: not a training video we believe


def video_duration_seconds(file) -> int | None:
    """The duration of an uploaded video in whole seconds (rounded up), or ``None`` when it cannot
    be read. ``file``: a Django ``File``/``UploadedFile``; it is left positioned at 0."""
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a declared dependency
        logger.warning("imageio-ffmpeg is not installed: video durations are not read")
        return None
    path = None
    try:
        with tempfile.NamedTemporaryFile(suffix=".video", delete=False) as tmp:
            path = tmp.name
            file.seek(0)
            for chunk in file.chunks() if hasattr(file, "chunks") else iter(lambda: file.read(1 << 20), b""):
                tmp.write(chunk)
        frames = imageio_ffmpeg.read_frames(path)
        try:
            meta = next(frames)
        finally:
            frames.close()
        seconds = float(meta.get("duration") or 0)
    except Exception:  # noqa: BLE001 - any unreadable file: the duration stays unknown
        logger.info("could not read a video's duration", exc_info=True)
        return None
    finally:
        file.seek(0)
        if path:
            with contextlib.suppress(OSError):
                os.unlink(path)
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_SECONDS:
        return None
    return max(1, math.ceil(seconds))
