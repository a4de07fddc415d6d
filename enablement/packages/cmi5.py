"""cmi5 (the xAPI profile for launched courses): launching an AU and what its statements mean.

* ``cmi5_launch`` opens a launch (a cmi5 session) on the learner's attempt: it writes
  ``LMS.LaunchData`` into the State resource (AU activity id, the learner's actor, the attempt's
  registration) and returns the launch parameters (endpoint, fetch, actor, registration,
  activityId). The fetch URL carries a secret that answers once with ``{"auth-token": …}``.
* ``launch_for_token`` reads the ``Authorization: Basic <auth-token>`` of the AU's LRS calls: the
  token names the tenant and the launch, is valid until the launch expires and only after the
  fetch, and authorises nothing but that launch's actor, registration and AU.
* ``cmi5_statements_store`` checks the AU's statements against the launch (actor, registration,
  no LMS-only verbs, nothing after *terminated*), keeps them in the LRS and maps the cmi5 verbs to
  the activity log: *initialized* → ``training.started`` (once per user and training);
  *completed* / *passed* / *failed* / *terminated* → ``training.progressed`` with the score and
  the time credited; when the AU's ``moveOn`` is met, ``training.completed`` (the same event id as
  every other player, so once per user and training) and the LMS's own *satisfied* statement.

Time is credited from ``result.duration`` (the AU reports the session's duration so far), never
more than the wall-clock time since the launch.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from enablement.lrs.documents import KIND_STATE, DocumentKey, document_put
from enablement.lrs.mapping import actor_key
from enablement.lrs.models import XapiStatement
from enablement.lrs.store import xapi_statements_store
from enablement.lrs.validation import XapiInvalid, validate_statement
from enablement.models import Verb
from enablement.packages.models import Attempt, Cmi5Launch, Standard
from enablement.packages.services import duration_seconds
from enablement.services import training as training_service
from enablement.services.log import activity_record
from partners.models import Membership, Role

ADL = "http://adlnet.gov/expapi/verbs/"
INITIALIZED = ADL + "initialized"
COMPLETED = ADL + "completed"
PASSED = ADL + "passed"
FAILED = ADL + "failed"
TERMINATED = ADL + "terminated"
SATISFIED = "https://w3id.org/xapi/adl/verbs/satisfied"
LMS_ONLY = frozenset({SATISFIED, "https://w3id.org/xapi/adl/verbs/abandoned", "https://w3id.org/xapi/adl/verbs/waived"})
CMI5_CATEGORY = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
SESSION_EXT = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
MASTERY_EXT = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore"
LAUNCH_DATA = "LMS.LaunchData"
MOVE_ON = ("Passed", "Completed", "CompletedAndPassed", "CompletedOrPassed", "NotApplicable")
_USER_RE = re.compile(r"^c(\d{1,18})\.(\d{1,18})$")


class Cmi5Refused(Exception):
    """An AU request the launch does not authorise (403) or a statement cmi5 forbids (400)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def launch_actor(attempt: Attempt, *, home_page: str, name: str) -> dict[str, Any]:
    """The learner as the AU sees it: an account on the portal named by the user's id (no email)."""
    return {"objectType": "Agent", "name": name, "account": {"homePage": home_page, "name": str(attempt.user_id)}}


def launch_data(attempt: Attempt, launch: Cmi5Launch, *, return_url: str = "") -> dict[str, Any]:
    """The ``LMS.LaunchData`` document (cmi5 10.2.1)."""
    package = attempt.package
    data: dict[str, Any] = {
        "contextTemplate": {
            "contextActivities": {"grouping": [{"objectType": "Activity", "id": package.activity_id}]},
            "extensions": {SESSION_EXT: str(launch.session_id)},
        },
        "launchMode": "Normal",
        "launchMethod": "AnyWindow",
        "moveOn": package.move_on if package.move_on in MOVE_ON else "NotApplicable",
    }
    if package.mastery_score is not None:
        data["masteryScore"] = package.mastery_score
    if return_url:
        data["returnURL"] = return_url
    return data


@dataclass(frozen=True)
class LaunchParams:
    launch: Cmi5Launch
    fetch_secret: str
    actor: dict[str, Any]


@transaction.atomic
def cmi5_launch(*, attempt: Attempt, home_page: str, learner_name: str, return_url: str = "") -> LaunchParams:
    """A new launch on the attempt, with ``LMS.LaunchData`` written before the AU starts."""
    package = attempt.package
    if package.standard != Standard.CMI5:
        raise ValueError("Not a cmi5 package")
    now = training_service.clock()
    secret = secrets.token_urlsafe(32)
    launch = Cmi5Launch.objects.create(
        tenant_id=attempt.tenant_id, attempt=attempt, fetch_hash=_hash(secret), created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.PACKAGE_TOKEN_MAX_AGE),
    )
    actor = launch_actor(attempt, home_page=home_page, name=learner_name)
    launch.actor_key = actor_key(actor)[:500]
    launch.save(update_fields=["actor_key"])
    document_put(
        tenant=attempt.tenant, key=_state_key(attempt, actor), document_id=LAUNCH_DATA,
        content=json.dumps(launch_data(attempt, launch, return_url=return_url)).encode(),
        content_type="application/json", merge=False,
    )
    return LaunchParams(launch=launch, fetch_secret=secret, actor=actor)


def _state_key(attempt: Attempt, actor: dict[str, Any]) -> DocumentKey:
    return DocumentKey(kind=KIND_STATE, activity_id=attempt.package.activity_id, agent_key=actor_key(actor),
                       registration=str(attempt.registration))


@transaction.atomic
def fetch_token(*, launch: Cmi5Launch, secret: str) -> str:
    """The auth token, once per launch (cmi5 8.2): error code 1 on a second call, 2 once expired,
    3 for a wrong secret. Only the token's hash is kept."""
    launch = Cmi5Launch.objects.select_for_update().get(pk=launch.pk)
    if not hmac.compare_digest(launch.fetch_hash, _hash(secret)):
        raise Cmi5Refused(3, "Invalid fetch request")
    if launch.fetched_at is not None:
        raise Cmi5Refused(1, "The auth token of this launch was already fetched")
    now = training_service.clock()
    if now >= launch.expires_at:
        raise Cmi5Refused(2, "The launch has expired")
    token_secret = secrets.token_urlsafe(32)
    launch.token_hash = _hash(token_secret)
    launch.fetched_at = now
    launch.save(update_fields=["token_hash", "fetched_at"])
    return base64.b64encode(f"c{launch.tenant_id}.{launch.pk}:{token_secret}".encode()).decode()


def token_claims(authorization: str) -> tuple[int, int, str] | None:
    """``Basic <auth-token>`` → (tenant id, launch id, secret), or None when it is not a cmi5 token."""
    scheme, _sp, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        user, _colon, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    match = _USER_RE.match(user)
    if not match or not secret:
        return None
    return int(match.group(1)), int(match.group(2)), secret


def launch_for_token(*, tenant_id: int, launch_id: int, secret: str) -> Cmi5Launch | None:
    """The launch the token authorises (call inside the tenant's scope), or None: unknown, not
    fetched yet, wrong secret, expired, or the learner no longer an active partner user."""
    launch = (
        Cmi5Launch.objects.select_related("attempt__package__asset", "attempt__user", "attempt__partner", "tenant")
        .filter(tenant_id=tenant_id, pk=launch_id).first()
    )
    if launch is None or not launch.token_hash or not hmac.compare_digest(launch.token_hash, _hash(secret)):
        return None
    if training_service.clock() >= launch.expires_at or not launch.attempt.user.is_active:
        return None
    if not Membership.objects.filter(tenant_id=tenant_id, user_id=launch.attempt.user_id, partner_id=launch.attempt.partner_id,
                                     role=Role.PARTNER_USER, is_active=True).exists():
        return None
    return launch


def state_key_for(launch: Cmi5Launch, *, activity_id: str, agent: dict[str, Any], registration: str) -> DocumentKey:
    """The State key of an AU's request, refused unless it is the launch's AU, actor and registration."""
    attempt = launch.attempt
    if activity_id != attempt.package.activity_id or registration != str(attempt.registration):
        raise Cmi5Refused(403, "This token only reaches the state of its own AU and registration")
    if actor_key(agent) != launch.actor_key:
        raise Cmi5Refused(403, "This token only reaches the state of its own learner")
    return DocumentKey(kind=KIND_STATE, activity_id=activity_id, agent_key=actor_key(agent), registration=registration)


def move_on_met(move_on: str, *, completed: bool, passed: bool) -> bool:
    """cmi5 moveOn criteria (9.6.2.1 / 10.2.1)."""
    return {
        "Completed": completed,
        "Passed": passed,
        "CompletedAndPassed": completed and passed,
        "CompletedOrPassed": completed or passed,
        "NotApplicable": True,
    }.get(move_on, True)


def _check(launch: Cmi5Launch, stmt: dict[str, Any], actor_key_expected: str) -> None:
    verb = stmt["verb"]["id"]
    if verb in LMS_ONLY:
        raise Cmi5Refused(403, "Only the LMS issues satisfied, abandoned and waived")
    if actor_key(stmt["actor"]) != actor_key_expected:
        raise Cmi5Refused(403, "Statements of this launch must have the launch's actor")
    registration = (stmt.get("context") or {}).get("registration")
    if registration is None or str(registration).lower() != str(launch.attempt.registration):
        raise Cmi5Refused(403, "Statements of this launch must carry the launch's registration")
    if launch.terminated_at is not None:
        raise Cmi5Refused(403, "The AU has terminated this session")
    if verb in (PASSED, FAILED):
        scaled = ((stmt.get("result") or {}).get("score") or {}).get("scaled")
        mastery = launch.attempt.package.mastery_score
        if mastery is not None and isinstance(scaled, int | float):
            if verb == PASSED and scaled < mastery:
                raise Cmi5Refused(400, "passed with a score below the mastery score")
            if verb == FAILED and scaled >= mastery:
                raise Cmi5Refused(400, "failed with a score at or above the mastery score")


@transaction.atomic
def cmi5_statements_store(*, launch: Cmi5Launch, statements: list[dict[str, Any]], authority_home: str) -> list[str]:
    """Check, store and map the AU's statements (see the module docstring). Returns their ids.

    ``XapiInvalid`` for an invalid statement, ``Cmi5Refused`` for one the launch does not allow."""
    launch = Cmi5Launch.objects.select_for_update().select_related(
        "attempt__package__asset", "attempt__user", "attempt__partner", "tenant"
    ).get(pk=launch.pk)
    attempt = Attempt.objects.select_for_update().select_related("package__asset", "user", "partner").get(pk=launch.attempt_id)
    launch.attempt = attempt
    for i, stmt in enumerate(statements):
        try:
            validate_statement(stmt)
        except XapiInvalid as exc:
            raise XapiInvalid((f"statement[{i}]: " if len(statements) > 1 else "") + str(exc)) from exc
        _check(launch, stmt, launch.actor_key)
    tenant = launch.tenant
    authority = {"objectType": "Agent", "name": "Shien cmi5 launch",
                 "account": {"homePage": authority_home, "name": f"cmi5-launch-{launch.pk}"}}
    report = xapi_statements_store(tenant=tenant, statements=statements, authority=authority)
    for stmt, statement_id in zip(statements, report.ids, strict=True):
        obj = stmt.get("object") or {}
        if obj.get("objectType", "Activity") == "Activity" and obj.get("id") == attempt.package.activity_id:
            _apply(launch, attempt, stmt, statement_id, authority=authority)
    launch.save(update_fields=["terminated_at", "reported", "credited"])
    attempt.save()
    return report.ids


def _apply(launch: Cmi5Launch, attempt: Attempt, stmt: dict[str, Any], statement_id: str, *, authority) -> None:
    verb = stmt["verb"]["id"]
    if verb not in (INITIALIZED, COMPLETED, PASSED, FAILED, TERMINATED):
        return
    package = attempt.package
    asset = package.asset
    user = attempt.user
    now = training_service.clock()
    common = {"tenant": launch.tenant, "partner": attempt.partner, "user": user, "asset": asset}
    result = stmt.get("result") or {}
    if verb == INITIALIZED:
        event, _created = activity_record(
            **common, verb=Verb.TRAINING_STARTED, event_id=f"training.started:{user.pk}:{asset.pk}",
            progress=0.0, seconds=0.0, occurred_at=now,
        )
        attempt.commits += 1
        attempt.last_seen_at = now
    else:
        reported = duration_seconds(result.get("duration")) if isinstance(result.get("duration"), str) else 0.0
        offered = max(0.0, reported - launch.reported)
        budget = max(0.0, (now - launch.created_at).total_seconds() - launch.credited)
        credited = min(offered, budget)
        launch.reported += credited
        launch.credited += credited
        attempt.seconds += credited
        attempt.commits += 1
        attempt.last_seen_at = now
        if verb == COMPLETED:
            attempt.completion_status = "completed"
        elif verb in (PASSED, FAILED):
            attempt.success_status = "passed" if verb == PASSED else "failed"
            score = result.get("score") if isinstance(result.get("score"), dict) else {}
            for name, field in (("raw", "score_raw"), ("scaled", "score_scaled")):
                if isinstance(score.get(name), int | float) and not isinstance(score.get(name), bool):
                    setattr(attempt, field, float(score[name]))
        elif verb == TERMINATED:
            launch.terminated_at = now
        extra = {"package": package.pk, "standard": package.standard, "cmi5_verb": verb.rsplit("/", 1)[-1],
                 "statement": statement_id, "credited": round(credited, 2),
                 "completion": attempt.completion_status, "success": attempt.success_status}
        if attempt.score_raw is not None:
            extra["score_raw"] = attempt.score_raw
        if attempt.score_scaled is not None:
            extra["score_scaled"] = attempt.score_scaled
        progress = 100.0 if attempt.completion_status == "completed" or attempt.success_status == "passed" else None
        event, _created = activity_record(
            **common, verb=Verb.TRAINING_PROGRESSED, event_id=f"cmi5:{statement_id}", progress=progress,
            seconds=round(attempt.seconds, 2), extra=extra, occurred_at=now,
        )
    # The statement is kept in the LRS as mapped onto the event it produced.
    XapiStatement.objects.filter(tenant=launch.tenant, statement_id=uuid.UUID(statement_id)).update(
        unmapped=False, unmapped_reason="", mapped_event=event
    )
    met = move_on_met(package.move_on, completed=attempt.completion_status == "completed",
                      passed=attempt.success_status == "passed")
    if met and attempt.completed_at is None:
        activity_record(**common, verb=Verb.TRAINING_COMPLETED, event_id=f"training.completed:{user.pk}:{asset.pk}",
                        progress=100.0, seconds=round(attempt.seconds, 2),
                        extra={"package": package.pk, "standard": package.standard, "move_on": package.move_on},
                        occurred_at=now)
        attempt.completed_at = now
        _satisfied(launch, attempt, stmt, authority=authority)


def _satisfied(launch: Cmi5Launch, attempt: Attempt, stmt: dict[str, Any], *, authority) -> None:
    """The LMS's own *satisfied* statement about the AU (cmi5 9.3.9), in the launch's session."""
    context = {
        "registration": str(attempt.registration),
        "contextActivities": {"grouping": [{"objectType": "Activity", "id": attempt.package.activity_id}],
                              "category": [{"objectType": "Activity", "id": CMI5_CATEGORY}]},
        "extensions": {SESSION_EXT: str(launch.session_id)},
    }
    xapi_statements_store(
        tenant=launch.tenant,
        statements=[{
            "id": str(uuid.uuid4()), "actor": stmt["actor"],
            "verb": {"id": SATISFIED, "display": {"en-US": "satisfied"}},
            "object": {"objectType": "Activity", "id": attempt.package.activity_id},
            "context": context,
        }],
        authority=authority,
    )
