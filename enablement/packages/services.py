"""Writes of packaged courses: uploading a package, launching it, and a runtime's commits.

Commits are mapped to the activity log through ``enablement.services.log.activity_record``:

* ``training.started`` once per (user, training), on the first commit;
* ``training.progressed`` per commit (``event_id`` from the portal page: a retry is stored once),
  carrying the time credited so far (``seconds``) and the progress in percent;
* ``training.completed`` exactly once per (user, training) — the same event id the video player
  uses — when the content reports *completed* or *passed* (SCORM 1.2 ``lesson_status``; SCORM 2004
  ``completion_status`` / ``success_status``, a *failed* success status never completes).

Time is credited from the session time the content reports, never more than the wall-clock time
since the launch (the play session of ``enablement.services.training``, at 1×).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from enablement import uploads
from enablement.models import ActivityEvent, Asset, AssetKind, EventSource, Verb
from enablement.packages.models import Attempt, Package, Standard
from enablement.packages.unpack import inspect, remove_folder, unpack
from enablement.services import training as training_service
from enablement.services.log import activity_record
from enablement.services.training import play_session_for, play_session_start, play_session_token
from partners.audit import audit_record
from partners.models import Partner, Tenant, User

CONTENT_SALT = "packages.content"
MAX_CMI_BYTES = 256 * 1024
_SCORM12_TIME = re.compile(r"^(\d{1,4}):([0-5]?\d):([0-5]?\d(?:\.\d{1,2})?)$")
_ISO_DURATION = re.compile(
    r"^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


# --- Upload --------------------------------------------------------------------------------------


def package_upload(*, tenant: Tenant, actor: User | None, asset: Asset, file, original_name: str | None = None) -> Package:
    """Check and unpack a course zip as the training's new package version.

    Raises ``ValidationError`` with a translated message for every refused zip; nothing stays
    written then (the partial folder is removed, the row is not created)."""
    if asset.tenant_id != tenant.pk:
        raise ValidationError("Unknown asset.")
    if asset.kind != AssetKind.TRAINING:
        raise ValidationError(_("Only trainings can have a course package."), code="not_training")
    name, ext = uploads.validate_filename(original_name if original_name is not None else getattr(file, "name", None))
    if ext != "zip":
        raise ValidationError(_("Upload the course as a .zip file."), code="not_zip")
    size = file.size if getattr(file, "size", None) is not None else None
    if size is None:
        file.seek(0, 2)
        size = file.tell()
    if size > settings.UPLOAD_MAX_BYTES:
        raise ValidationError(
            _("The file is too large (%(size)s MB). The limit is %(limit)s MB.")
            % {"size": round(size / 1048576), "limit": round(settings.UPLOAD_MAX_BYTES / 1048576)},
            code="too_large",
        )
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in iter(lambda: file.read(65536), b""):
        digest.update(chunk)
    inspect(file)
    folder = f"t{tenant.pk}/packages/{uuid.uuid4().hex}"
    unpacked = unpack(file, folder=folder)
    manifest = unpacked.manifest
    try:
        with transaction.atomic():
            Asset.objects.select_for_update().filter(tenant=tenant, pk=asset.pk).first()
            last = Package.objects.filter(tenant=tenant, asset=asset).order_by("-version").first()
            package = Package.objects.create(
                tenant=tenant, asset=asset, version=(last.version + 1) if last else 1,
                standard=manifest.standard, edition=manifest.edition, title=manifest.title,
                launch_path=manifest.launch_path, launch_query=manifest.launch_query, folder=folder,
                files=unpacked.files, file_count=len(unpacked.files), total_size=unpacked.total,
                original_name=name, size=size, sha256=digest.hexdigest(), mastery_score=manifest.mastery_score,
                activity_id=manifest.activity_id, move_on=manifest.move_on, uploaded_by=actor,
            )
            audit_record(
                tenant=tenant, actor=actor, action="package.uploaded", target=asset,
                after={"version": package.version, "standard": package.get_standard_display(),
                       "edition": package.edition, "files": package.file_count, "launch": package.launch_path},
            )
    except BaseException:
        remove_folder(folder, [f for f, _size in unpacked.files])
        raise
    return package


# --- Launch and the content token -----------------------------------------------------------------


def content_token(attempt: Attempt) -> str:
    """The signed, expiring token in the content URL: names the tenant, user, package and attempt."""
    payload = {"t": attempt.tenant_id, "u": attempt.user_id, "p": attempt.package_id, "a": attempt.pk}
    return signing.dumps(payload, salt=CONTENT_SALT, compress=True)


class TokenInvalid(Exception):
    """The content token is forged, expired or names nothing that exists."""


def content_token_read(token: str) -> dict:
    try:
        payload = signing.loads(token, salt=CONTENT_SALT, max_age=settings.PACKAGE_TOKEN_MAX_AGE)
    except signing.BadSignature as exc:  # SignatureExpired is a BadSignature
        raise TokenInvalid from exc
    if not isinstance(payload, dict) or not all(isinstance(payload.get(k), int) for k in "tupa"):
        raise TokenInvalid
    return payload


@transaction.atomic
def attempt_launch(*, tenant: Tenant, partner: Partner, user: User, package: Package) -> tuple[Attempt, str]:
    """Open the user's attempt on the package (created on the first launch) and a play session
    for the time budget. Returns the attempt and the play session's token."""
    if package.tenant_id != tenant.pk or partner.tenant_id != tenant.pk:
        raise ValidationError("Unknown package.")
    now = training_service.clock()
    attempt, _created = Attempt.objects.select_for_update().get_or_create(
        tenant=tenant, package=package, user=user, defaults={"partner": partner, "started_at": now, "last_seen_at": now}
    )
    attempt.launches += 1
    attempt.launch_reported = 0.0
    attempt.partner = partner
    attempt.save(update_fields=["launches", "launch_reported", "partner"])
    session, token = play_session_start(tenant=tenant, user=user, asset=package.asset)
    return attempt, token


def _num(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) < 1e9 else None


def duration_seconds(value: Any) -> float:
    """``HHHH:MM:SS.SS`` (SCORM 1.2) or ISO 8601 ``PT1H2M3.5S`` (SCORM 2004) → seconds; 0 if malformed."""
    text = str(value or "").strip()
    if match := _SCORM12_TIME.match(text):
        h, m, s = match.groups()
        return int(h) * 3600 + int(m) * 60 + float(s)
    if (match := _ISO_DURATION.match(text)) and text not in ("P", "PT"):
        y, mo, d, h, mi, s = (float(g) if g else 0.0 for g in match.groups())
        return y * 365 * 86400 + mo * 30 * 86400 + d * 86400 + h * 3600 + mi * 60 + s
    return 0.0


def read_cmi(standard: str, cmi: dict) -> dict[str, Any]:
    """The figures the portal keeps from a committed CMI object, per standard."""
    if not isinstance(cmi, dict):
        cmi = {}
    if standard == Standard.SCORM12:
        core = cmi.get("core") if isinstance(cmi.get("core"), dict) else {}
        score = core.get("score") if isinstance(core.get("score"), dict) else {}
        status = str(core.get("lesson_status") or "")[:20]
        raw, top = _num(score.get("raw")), _num(score.get("max"))
        return {
            "location": str(core.get("lesson_location") or "")[:1000],
            "suspend_data": str(cmi.get("suspend_data") or "")[:64000],
            "completion": status if status in ("completed", "incomplete", "not attempted", "browsed") else ("completed" if status in ("passed", "failed") else ""),
            "success": status if status in ("passed", "failed") else "",
            "score_raw": raw,
            "score_scaled": (raw / top) if raw is not None and top else None,
            "session": duration_seconds(core.get("session_time")),
            "progress": None,
            "done": status in ("completed", "passed"),
        }
    score = cmi.get("score") if isinstance(cmi.get("score"), dict) else {}
    completion = str(cmi.get("completion_status") or "")[:20]
    success = str(cmi.get("success_status") or "")[:20]
    if success == "unknown":
        success = ""
    progress = _num(cmi.get("progress_measure"))
    return {
        "location": str(cmi.get("location") or "")[:1000],
        "suspend_data": str(cmi.get("suspend_data") or "")[:64000],
        "completion": "" if completion == "unknown" else completion,
        "success": success,
        "score_raw": _num(score.get("raw")),
        "score_scaled": _num(score.get("scaled")),
        "session": duration_seconds(cmi.get("session_time")),
        "progress": max(0.0, min(progress, 1.0)) * 100 if progress is not None else None,
        "done": success == "passed" or (completion == "completed" and success != "failed"),
    }


@transaction.atomic
def attempt_commit(
    *, tenant: Tenant, partner: Partner, user: User, asset: Asset, attempt_id: int, cmi: dict, event_id: str, play_session: str,
    session_key: str = "",
) -> dict[str, Any]:
    """Store one commit of the runtime and log what it means (see the module docstring).

    ``ValidationError`` when the attempt is not this user's or the data is too large;
    ``enablement.services.training.PlaySessionInvalid`` for a forged play-session token."""
    attempt = (
        Attempt.objects.select_for_update().select_related("package__asset")
        .filter(tenant=tenant, user=user, package__asset=asset, pk=attempt_id).first()
    )
    if attempt is None:
        raise ValidationError("Unknown attempt.")
    if len(repr(cmi)) > MAX_CMI_BYTES:
        raise ValidationError(_("The course sent more data than the portal keeps."), code="cmi_large")
    asset = attempt.package.asset
    session = play_session_for(tenant=tenant, user=user, asset=asset, token=play_session)
    common = {"tenant": tenant, "partner": partner, "user": user, "asset": asset, "session_key": session_key}
    if ActivityEvent.objects.filter(tenant=tenant, source=EventSource.PORTAL, event_id=event_id).exists():
        return {"duplicate": True, "completed": attempt.completed_at is not None, "session": play_session_token(session)}
    figures = read_cmi(attempt.package.standard, cmi)
    now = training_service.clock()
    # Time: what the content reports for this launch, never beyond the wall clock since the launch.
    offered = max(0.0, figures["session"] - attempt.launch_reported)
    budget = max(0.0, (now - session.started_at).total_seconds() - session.credited_seconds)
    credited = min(offered, budget)
    attempt.launch_reported += credited
    session.credited_seconds += credited
    session.last_seen_at = now
    session.save(update_fields=["credited_seconds", "last_seen_at"])
    first = attempt.commits == 0
    attempt.cmi = cmi
    attempt.location = figures["location"]
    attempt.suspend_data = figures["suspend_data"]
    attempt.completion_status = figures["completion"]
    attempt.success_status = figures["success"]
    attempt.score_raw = figures["score_raw"]
    attempt.score_scaled = figures["score_scaled"]
    attempt.seconds += credited
    attempt.commits += 1
    attempt.last_seen_at = now
    if first:
        activity_record(**common, verb=Verb.TRAINING_STARTED, event_id=f"training.started:{user.pk}:{asset.pk}",
                        progress=0.0, seconds=0.0, occurred_at=now)
    progress = 100.0 if figures["done"] else figures["progress"]
    extra = {
        "package": attempt.package_id, "standard": attempt.package.standard, "play_session": session.pk,
        "credited": round(credited, 2), "completion": figures["completion"], "success": figures["success"],
    }
    if figures["score_raw"] is not None:
        extra["score_raw"] = figures["score_raw"]
    if figures["score_scaled"] is not None:
        extra["score_scaled"] = figures["score_scaled"]
    if offered > credited:
        extra["deferred"] = round(offered - credited, 2)
    activity_record(**common, verb=Verb.TRAINING_PROGRESSED, event_id=event_id, progress=progress,
                    seconds=round(attempt.seconds, 2), extra=extra, occurred_at=now)
    if figures["done"] and attempt.completed_at is None:
        activity_record(**common, verb=Verb.TRAINING_COMPLETED, event_id=f"training.completed:{user.pk}:{asset.pk}",
                        progress=100.0, seconds=round(attempt.seconds, 2), extra=extra, occurred_at=now)
        attempt.completed_at = now
    attempt.save()
    return {"duplicate": False, "completed": attempt.completed_at is not None, "credited": round(credited, 2),
            "session": play_session_token(session)}


def launch_state(attempt: Attempt, *, learner_name: str) -> dict[str, Any]:
    """What the runtime in the content's window starts from: the stored CMI data with the entry mode
    set for a resume, and the learner's id and name."""
    standard = attempt.package.standard
    stored = attempt.cmi if isinstance(attempt.cmi, dict) else {}
    resume = bool(attempt.location or attempt.suspend_data)
    learner_id = str(attempt.user_id)
    if standard == Standard.SCORM12:
        core = dict(stored.get("core") or {}) if isinstance(stored.get("core"), dict) else {}
        keep = {k: core[k] for k in ("lesson_location", "lesson_status", "score") if k in core}
        keep.update(student_id=learner_id, student_name=learner_name, entry="resume" if resume else "ab-initio",
                    total_time=_scorm12_time(attempt.seconds))
        cmi = {"core": keep}
        if attempt.suspend_data:
            cmi["suspend_data"] = attempt.suspend_data
        if attempt.package.mastery_score is not None:
            cmi["student_data"] = {"mastery_score": str(attempt.package.mastery_score)}
    else:
        cmi = {k: stored[k] for k in ("location", "completion_status", "success_status", "score", "progress_measure")
               if k in stored}
        cmi.update(learner_id=learner_id, learner_name=learner_name, entry="resume" if resume else "ab-initio",
                   total_time=_iso_time(attempt.seconds))
        if attempt.suspend_data:
            cmi["suspend_data"] = attempt.suspend_data
    return {"standard": standard, "cmi": cmi}


def _scorm12_time(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:04d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _iso_time(seconds: float) -> str:
    return f"PT{dt.timedelta(seconds=int(seconds)).total_seconds():.0f}S"
