"""Validation of xAPI 1.0.3 statements (Data, section 2): reject malformed statements with a reason.

``validate_statement(stmt)`` raises ``XapiInvalid(reason)``; the LRS answers 400 with it.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime


class XapiInvalid(ValueError):
    pass


IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
LANG_RE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
EMAIL_RE = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")
SHA1_RE = re.compile(r"^[0-9a-fA-F]{40}$")
# ISO 8601 durations: weeks stand alone (P4W; P4W1D is not a duration)
DURATION_RE = re.compile(
    r"^P(?:\d+(?:\.\d+)?W|(?!$)(\d+(?:\.\d+)?Y)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?D)?"
    r"(T(?=\d)(\d+(?:\.\d+)?H)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?S)?)?)$"
)
SHA2_RE = re.compile(r"^[0-9a-fA-F]{56}$|^[0-9a-fA-F]{64}$|^[0-9a-fA-F]{96}$|^[0-9a-fA-F]{128}$")
MAX_DEPTH = 32
ISO_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")

STATEMENT_KEYS = {
    "id",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "stored",
    "authority",
    "version",
    "attachments",
}
SUBSTATEMENT_KEYS = {"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}
AGENT_KEYS = {"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"}
GROUP_KEYS = AGENT_KEYS | {"member"}
IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
INTERACTION_TYPES = {
    "true-false",
    "choice",
    "fill-in",
    "long-fill-in",
    "matching",
    "performance",
    "sequencing",
    "likert",
    "numeric",
    "other",
}
DEFINITION_KEYS = {
    "name", "description", "type", "moreInfo", "extensions", "interactionType", "correctResponsesPattern",
    "choices", "scale", "source", "target", "steps",
}  # fmt: skip
CONTEXT_ACTIVITY_KEYS = {"parent", "grouping", "category", "other"}
INTERACTION_PROPS = ("correctResponsesPattern", "choices", "scale", "source", "target", "steps")
COMPONENTS_OF = {
    "choice": {"choices"},
    "sequencing": {"choices"},
    "likert": {"scale"},
    "matching": {"source", "target"},
    "performance": {"steps"},
}


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Raise ``XapiInvalid`` when JSON nests deeper than ``limit`` (iterative: no recursion error)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise XapiInvalid(f"JSON nested deeper than {limit} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise XapiInvalid(f"{where} must be a JSON object")
    return value


def _keys(value: dict, allowed: set[str], where: str) -> None:
    unknown = set(value) - allowed
    if unknown:
        raise XapiInvalid(f"{where} has unknown properties: {', '.join(sorted(unknown))}")


def _iri(value: Any, where: str) -> str:
    if not isinstance(value, str) or not IRI_RE.match(value):
        raise XapiInvalid(f"{where} must be an absolute IRI")
    return value


def _uuid(value: Any, where: str) -> uuid.UUID:
    if not isinstance(value, str):
        raise XapiInvalid(f"{where} must be a UUID string")
    try:
        parsed = uuid.UUID(value)
    except ValueError as exc:
        raise XapiInvalid(f"{where} must be a UUID") from exc
    if str(parsed) != value.lower():
        raise XapiInvalid(f"{where} must be a UUID in its canonical hyphenated form")
    return parsed


def _lang_map(value: Any, where: str) -> None:
    _obj(value, where)
    for k, v in value.items():
        if not LANG_RE.match(k):
            raise XapiInvalid(f"{where}: {k!r} is not an RFC 5646 language tag")
        if not isinstance(v, str):
            raise XapiInvalid(f"{where}[{k}] must be a string")


def _extensions(value: Any, where: str) -> None:
    _obj(value, where)
    for k in value:
        _iri(k, f"{where} key {k!r}")


def parse_timestamp(value: Any, where: str) -> datetime:
    if not isinstance(value, str) or not ISO_TS_RE.match(value):
        raise XapiInvalid(f"{where} must be an ISO 8601 timestamp")
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise XapiInvalid(f"{where} must be an ISO 8601 timestamp")
    if value.endswith(("-00", "-0000", "-00:00")):
        raise XapiInvalid(f"{where}: the offset -00:00 is not allowed")
    return parsed


def validate_agent(value: Any, where: str, *, group_ok: bool = True) -> None:
    agent = _obj(value, where)
    kind = agent.get("objectType", "Agent")
    if kind == "Group" and group_ok:
        _keys(agent, GROUP_KEYS, where)
        ifis = [k for k in IFI_KEYS if k in agent]
        if len(ifis) > 1:
            raise XapiInvalid(f"{where} must have at most one inverse functional identifier")
        if not ifis and "member" not in agent:
            raise XapiInvalid(f"{where}: an anonymous Group needs 'member'")
        if "member" in agent:
            if not isinstance(agent["member"], list):
                raise XapiInvalid(f"{where}.member must be a list")
            for i, m in enumerate(agent["member"]):
                validate_agent(m, f"{where}.member[{i}]", group_ok=False)
        if ifis:
            _ifi(agent, ifis[0], where)
    elif kind == "Agent":
        _keys(agent, AGENT_KEYS, where)
        ifis = [k for k in IFI_KEYS if k in agent]
        if len(ifis) != 1:
            raise XapiInvalid(f"{where} must have exactly one of mbox, mbox_sha1sum, openid, account")
        _ifi(agent, ifis[0], where)
    else:
        raise XapiInvalid(f"{where}.objectType must be 'Agent'" + (" or 'Group'" if group_ok else ""))
    if "name" in agent and not isinstance(agent["name"], str):
        raise XapiInvalid(f"{where}.name must be a string")


def _ifi(agent: dict, key: str, where: str) -> None:
    value = agent[key]
    if key == "mbox" and (not isinstance(value, str) or not EMAIL_RE.match(value)):
        raise XapiInvalid(f"{where}.mbox must be 'mailto:' followed by an email address")
    if key == "mbox_sha1sum" and (not isinstance(value, str) or not SHA1_RE.match(value)):
        raise XapiInvalid(f"{where}.mbox_sha1sum must be a SHA1 hex digest")
    if key == "openid":
        _iri(value, f"{where}.openid")
    if key == "account":
        account = _obj(value, f"{where}.account")
        _keys(account, {"homePage", "name"}, f"{where}.account")
        if "homePage" not in account or "name" not in account:
            raise XapiInvalid(f"{where}.account needs homePage and name")
        _iri(account["homePage"], f"{where}.account.homePage")
        if not isinstance(account["name"], str):
            raise XapiInvalid(f"{where}.account.name must be a string")


def validate_verb(value: Any, where: str = "verb") -> None:
    verb = _obj(value, where)
    _keys(verb, {"id", "display"}, where)
    if "id" not in verb:
        raise XapiInvalid(f"{where}.id is required")
    _iri(verb["id"], f"{where}.id")
    if "display" in verb:
        _lang_map(verb["display"], f"{where}.display")


def validate_activity(value: Any, where: str) -> None:
    act = _obj(value, where)
    _keys(act, {"objectType", "id", "definition"}, where)
    if act.get("objectType", "Activity") != "Activity":
        raise XapiInvalid(f"{where}.objectType must be 'Activity'")
    if "id" not in act:
        raise XapiInvalid(f"{where}.id is required")
    _iri(act["id"], f"{where}.id")
    if "definition" in act:
        d = _obj(act["definition"], f"{where}.definition")
        _keys(d, DEFINITION_KEYS, f"{where}.definition")
        for k in ("name", "description"):
            if k in d:
                _lang_map(d[k], f"{where}.definition.{k}")
        for k in ("type", "moreInfo"):
            if k in d:
                _iri(d[k], f"{where}.definition.{k}")
        if "extensions" in d:
            _extensions(d["extensions"], f"{where}.definition.extensions")
        _interaction(d, f"{where}.definition")


def _interaction(d: dict, where: str) -> None:
    kind = d.get("interactionType")
    if "interactionType" in d and (not isinstance(kind, str) or kind not in INTERACTION_TYPES):
        raise XapiInvalid(f"{where}.interactionType is not a known interaction type")
    present = [k for k in INTERACTION_PROPS if k in d]
    if present and kind is None:
        raise XapiInvalid(f"{where}: {', '.join(present)} need interactionType")
    if "correctResponsesPattern" in d and not (
        isinstance(d["correctResponsesPattern"], list)
        and all(isinstance(x, str) for x in d["correctResponsesPattern"])
    ):
        raise XapiInvalid(f"{where}.correctResponsesPattern must be a list of strings")
    for name in ("choices", "scale", "source", "target", "steps"):
        if name not in d:
            continue
        if name not in COMPONENTS_OF.get(kind, set()):
            raise XapiInvalid(f"{where}.{name} is not allowed for interactionType {kind!r}")
        items = d[name]
        if not isinstance(items, list):
            raise XapiInvalid(f"{where}.{name} must be a list of interaction components")
        seen: set[str] = set()
        for i, c in enumerate(items):
            comp = _obj(c, f"{where}.{name}[{i}]")
            _keys(comp, {"id", "description"}, f"{where}.{name}[{i}]")
            if not isinstance(comp.get("id"), str) or not comp["id"]:
                raise XapiInvalid(f"{where}.{name}[{i}].id must be a non-empty string")
            if comp["id"] in seen:
                raise XapiInvalid(f"{where}.{name}: the id {comp['id']!r} appears twice")
            seen.add(comp["id"])
            if "description" in comp:
                _lang_map(comp["description"], f"{where}.{name}[{i}].description")


def validate_statement_ref(value: dict, where: str) -> None:
    _keys(value, {"objectType", "id"}, where)
    if "id" not in value:
        raise XapiInvalid(f"{where}.id is required")
    _uuid(value["id"], f"{where}.id")


def validate_object(value: Any, where: str = "object", *, sub: bool = False) -> None:
    obj = _obj(value, where)
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        validate_activity(obj, where)
    elif kind in ("Agent", "Group"):
        validate_agent(obj, where)
    elif kind == "StatementRef":
        validate_statement_ref(obj, where)
    elif kind == "SubStatement":
        if sub:
            raise XapiInvalid("A SubStatement cannot contain a SubStatement")
        _keys(obj, SUBSTATEMENT_KEYS, where)
        _validate_core(obj, where, sub=True)
    else:
        raise XapiInvalid(f"{where}.objectType {kind!r} is not allowed")


def validate_result(value: Any, where: str = "result") -> None:
    res = _obj(value, where)
    _keys(res, {"score", "success", "completion", "response", "duration", "extensions"}, where)
    if "score" in res:
        score = _obj(res["score"], f"{where}.score")
        _keys(score, {"scaled", "raw", "min", "max"}, f"{where}.score")
        for k, v in score.items():
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise XapiInvalid(f"{where}.score.{k} must be a number")
        if "scaled" in score and not -1 <= score["scaled"] <= 1:
            raise XapiInvalid(f"{where}.score.scaled must be between -1 and 1")
        if "min" in score and "max" in score and not score["min"] < score["max"]:
            raise XapiInvalid(f"{where}.score.min must be less than max")
        if "raw" in score:
            if "min" in score and score["raw"] < score["min"]:
                raise XapiInvalid(f"{where}.score.raw must not be below min")
            if "max" in score and score["raw"] > score["max"]:
                raise XapiInvalid(f"{where}.score.raw must not be above max")
    for k in ("success", "completion"):
        if k in res and not isinstance(res[k], bool):
            raise XapiInvalid(f"{where}.{k} must be true or false")
    if "response" in res and not isinstance(res["response"], str):
        raise XapiInvalid(f"{where}.response must be a string")
    if "duration" in res and (not isinstance(res["duration"], str) or not DURATION_RE.match(res["duration"])):
        raise XapiInvalid(f"{where}.duration must be an ISO 8601 duration")
    if "extensions" in res:
        _extensions(res["extensions"], f"{where}.extensions")


def validate_context(value: Any, obj: dict, where: str = "context") -> None:
    ctx = _obj(value, where)
    _keys(
        ctx,
        {
            "registration",
            "instructor",
            "team",
            "contextActivities",
            "revision",
            "platform",
            "language",
            "statement",
            "extensions",
        },
        where,
    )
    if "registration" in ctx:
        _uuid(ctx["registration"], f"{where}.registration")
    if "instructor" in ctx:
        validate_agent(ctx["instructor"], f"{where}.instructor")
    if "team" in ctx:
        team = _obj(ctx["team"], f"{where}.team")
        if team.get("objectType") != "Group":
            raise XapiInvalid(f"{where}.team must be a Group")
        validate_agent(team, f"{where}.team")
    if "contextActivities" in ctx:
        ca = _obj(ctx["contextActivities"], f"{where}.contextActivities")
        _keys(ca, CONTEXT_ACTIVITY_KEYS, f"{where}.contextActivities")
        for k, v in ca.items():
            items = v if isinstance(v, list) else [_obj(v, f"{where}.contextActivities.{k}")]
            for i, a in enumerate(items):
                validate_activity(a, f"{where}.contextActivities.{k}[{i}]")
    for k in ("revision", "platform"):
        if k in ctx:
            if not isinstance(ctx[k], str):
                raise XapiInvalid(f"{where}.{k} must be a string")
            if obj.get("objectType", "Activity") != "Activity":
                raise XapiInvalid(f"{where}.{k} is only allowed when the object is an Activity")
    if "language" in ctx and (not isinstance(ctx["language"], str) or not LANG_RE.match(ctx["language"])):
        raise XapiInvalid(f"{where}.language must be an RFC 5646 language tag")
    if "statement" in ctx:
        ref = _obj(ctx["statement"], f"{where}.statement")
        if ref.get("objectType") != "StatementRef":
            raise XapiInvalid(f"{where}.statement must be a StatementRef")
        validate_statement_ref(ref, f"{where}.statement")
    if "extensions" in ctx:
        _extensions(ctx["extensions"], f"{where}.extensions")


def _validate_core(stmt: dict, where: str, *, sub: bool = False) -> None:
    prefix = f"{where}." if sub else ""
    for k in ("actor", "verb", "object"):
        if k not in stmt:
            raise XapiInvalid(f"{prefix}{k} is required")
    validate_agent(stmt["actor"], f"{prefix}actor")
    validate_verb(stmt["verb"], f"{prefix}verb")
    validate_object(stmt["object"], f"{prefix}object", sub=sub)
    if "result" in stmt:
        validate_result(stmt["result"], f"{prefix}result")
    if "context" in stmt:
        validate_context(stmt["context"], stmt["object"], f"{prefix}context")
    if "timestamp" in stmt:
        parse_timestamp(stmt["timestamp"], f"{prefix}timestamp")
    if "attachments" in stmt:
        validate_attachments(stmt["attachments"], f"{prefix}attachments")


def validate_attachments(value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise XapiInvalid(f"{where} must be a list")
    for i, a in enumerate(value):
        w = f"{where}[{i}]"
        att = _obj(a, w)
        _keys(att, {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}, w)
        for req in ("usageType", "display", "contentType", "length", "sha2"):
            if req not in att:
                raise XapiInvalid(f"{w}.{req} is required")
        _iri(att["usageType"], f"{w}.usageType")
        _lang_map(att["display"], f"{w}.display")
        if "description" in att:
            _lang_map(att["description"], f"{w}.description")
        if not isinstance(att["contentType"], str) or not re.match(r"^[\w.+-]+/[\w.+-]+", att["contentType"]):
            raise XapiInvalid(f"{w}.contentType must be an Internet Media Type")
        if isinstance(att["length"], bool) or not isinstance(att["length"], int) or att["length"] < 0:
            raise XapiInvalid(f"{w}.length must be a non-negative integer")
        if not isinstance(att["sha2"], str) or not SHA2_RE.match(att["sha2"]):
            raise XapiInvalid(f"{w}.sha2 must be a SHA-2 hex digest")
        if "fileUrl" in att:
            _iri(att["fileUrl"], f"{w}.fileUrl")


def validate_authority(value: Any) -> None:
    """An Agent, or an anonymous Group of exactly two Agents (OAuth consumer and user)."""
    validate_agent(value, "authority")
    if value.get("objectType") == "Group":
        if any(k in value for k in IFI_KEYS):
            raise XapiInvalid("authority: a Group authority must be anonymous")
        if len(value.get("member", [])) != 2:
            raise XapiInvalid("authority: a Group authority must have exactly two members")


def validate_statement(stmt: Any) -> None:
    """Raise ``XapiInvalid`` when ``stmt`` is not a valid xAPI 1.0.3 statement."""
    stmt = _obj(stmt, "statement")
    check_depth(stmt)
    _keys(stmt, STATEMENT_KEYS, "statement")
    if "id" in stmt:
        _uuid(stmt["id"], "id")
    _validate_core(stmt, "statement")
    if "stored" in stmt:
        parse_timestamp(stmt["stored"], "stored")
    if "authority" in stmt:
        validate_authority(stmt["authority"])
    if "version" in stmt and (
        not isinstance(stmt["version"], str) or not re.match(r"^1\.0(\.\d+)?$", stmt["version"])
    ):
        raise XapiInvalid("version must be 1.0.x")
    if stmt["verb"]["id"] == "http://adlnet.gov/expapi/verbs/voided":
        obj = stmt["object"]
        if obj.get("objectType") != "StatementRef":
            raise XapiInvalid("A voiding statement's object must be a StatementRef")
