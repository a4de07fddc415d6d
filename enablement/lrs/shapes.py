"""Pure functions over validated statements: normalisation, the spec's equality, the agents and
activities a statement relates to, and the ``exact`` / ``ids`` / ``canonical`` formats."""

from __future__ import annotations

import copy
import json
from typing import Any

from enablement.lrs.mapping import actor_key

IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
CONTEXT_ACTIVITY_KEYS = ("parent", "grouping", "category", "other")
LRS_SET = ("id", "stored", "authority", "version", "timestamp", "attachments")


# --- normalisation --------------------------------------------------------------------------------
def normalise(stmt: dict[str, Any]) -> dict[str, Any]:
    """The statement as the LRS keeps it: a single contextActivities object becomes a list
    (also inside a SubStatement). Returns a new dict; the input is not changed."""
    out = copy.deepcopy(stmt)
    for part in (out, out.get("object") if isinstance(out.get("object"), dict) else None):
        ctx = (part or {}).get("context")
        if isinstance(ctx, dict) and isinstance(ctx.get("contextActivities"), dict):
            ctx["contextActivities"] = {
                k: v if isinstance(v, list) else [v] for k, v in ctx["contextActivities"].items()
            }
    return out


# --- equality (Data 2.3.1: what is not part of the immutable statement) ---------------------------
def _agent_cmp(agent: dict[str, Any]) -> Any:
    out: dict[str, Any] = {"objectType": agent.get("objectType", "Agent")}
    for k in IFI_KEYS:
        if k in agent:
            v = agent[k]
            out[k] = v.lower() if k in ("mbox", "mbox_sha1sum") and isinstance(v, str) else v
    if "member" in agent:
        out["member"] = sorted(json.dumps(_agent_cmp(m), sort_keys=True) for m in agent["member"])
    return out


def _activity_cmp(activity: dict[str, Any]) -> Any:
    return {"objectType": "Activity", "id": activity.get("id")}


def _object_cmp(obj: dict[str, Any]) -> Any:
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        return _activity_cmp(obj)
    if kind in ("Agent", "Group"):
        return _agent_cmp(obj)
    if kind == "StatementRef":
        return {"objectType": kind, "id": str(obj.get("id", "")).lower()}
    return _core_cmp(obj)  # SubStatement


def _context_cmp(ctx: dict[str, Any]) -> Any:
    out = dict(ctx)
    for k in ("instructor", "team"):
        if k in out:
            out[k] = _agent_cmp(out[k])
    if "contextActivities" in out:
        out["contextActivities"] = {
            k: [_activity_cmp(a) for a in (v if isinstance(v, list) else [v])]
            for k, v in out["contextActivities"].items()
        }
    if "registration" in out:
        out["registration"] = str(out["registration"]).lower()
    return out


def _core_cmp(stmt: dict[str, Any]) -> Any:
    out = {k: v for k, v in stmt.items() if k not in LRS_SET}
    out["actor"] = _agent_cmp(stmt["actor"])
    out["verb"] = {"id": stmt["verb"]["id"]}
    out["object"] = _object_cmp(stmt["object"])
    if "context" in stmt:
        out["context"] = _context_cmp(stmt["context"])
    return out


def comparable(stmt: dict[str, Any]) -> Any:
    """What two statements with the same id must share to be the same statement: not the
    LRS-assigned properties, not verb display nor activity definitions (language maps), not the
    order of group members, not the case of e-mail addresses."""
    return _core_cmp(stmt)


# --- the agents and activities a statement relates to ----------------------------------------------
def _agent_keys(agent: dict[str, Any]) -> list[str]:
    keys = []
    if any(k in agent for k in IFI_KEYS):
        keys.append(actor_key(agent))
    for m in agent.get("member") or []:
        keys.append(actor_key(m))
    return keys


def related(stmt: dict[str, Any]) -> tuple[set[tuple[str, bool]], set[tuple[str, bool]]]:
    """``({(agent_key, direct)}, {(activity_id, direct)})`` for the query index.

    Direct: the actor and an Agent/Group object (with group members), and the object activity.
    Related only: authority, instructor, team, context activities and all of a SubStatement.
    """
    agents: set[tuple[str, bool]] = set()
    activities: set[tuple[str, bool]] = set()

    def walk(part: dict[str, Any], direct: bool) -> None:
        for k in _agent_keys(part["actor"]):
            agents.add((k, direct))
        obj = part["object"]
        kind = obj.get("objectType", "Activity")
        if kind == "Activity":
            activities.add((obj["id"], direct))
        elif kind in ("Agent", "Group"):
            for k in _agent_keys(obj):
                agents.add((k, direct))
        elif kind == "SubStatement":
            walk(obj, False)
        ctx = part.get("context") or {}
        for k in ("instructor", "team"):
            if k in ctx:
                for key in _agent_keys(ctx[k]):
                    agents.add((key, False))
        for v in (ctx.get("contextActivities") or {}).values():
            for a in v if isinstance(v, list) else [v]:
                activities.add((a["id"], False))

    walk(stmt, True)
    if "authority" in stmt:
        for k in _agent_keys(stmt["authority"]):
            agents.add((k, False))
    # a direct row also answers related_* queries: keep the related flag only where needed
    agents = {(k, d) for k, d in agents if d or (k, True) not in agents}
    activities = {(a, d) for a, d in activities if d or (a, True) not in activities}
    return agents, activities


def activities_with_definitions(stmt: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Activity object in the statement (object, context activities, SubStatement)."""
    found: list[dict[str, Any]] = []

    def walk(part: dict[str, Any]) -> None:
        obj = part["object"]
        kind = obj.get("objectType", "Activity")
        if kind == "Activity":
            found.append(obj)
        elif kind == "SubStatement":
            walk(obj)
        for v in ((part.get("context") or {}).get("contextActivities") or {}).values():
            found.extend(v if isinstance(v, list) else [v])

    walk(stmt)
    return found


def merge_definition(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Language maps merge by language; every other property: the newer one wins."""
    out = dict(old)
    for k, v in new.items():
        if k in ("name", "description") and isinstance(v, dict) and isinstance(old.get(k), dict):
            out[k] = {**old[k], **v}
        else:
            out[k] = v
    return out


# --- formats ---------------------------------------------------------------------------------------
def _ids_agent(agent: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in agent.items() if k in ("objectType", *IFI_KEYS)}
    if agent.get("objectType") == "Group" and "member" in agent and not any(k in agent for k in IFI_KEYS):
        out["member"] = [_ids_agent(m) for m in agent["member"]]
    return out


def _map_parts(stmt: dict[str, Any], agent_fn, activity_fn, verb_fn) -> dict[str, Any]:
    out = dict(stmt)
    out["actor"] = agent_fn(stmt["actor"])
    out["verb"] = verb_fn(stmt["verb"])
    obj = stmt["object"]
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        out["object"] = activity_fn(obj)
    elif kind in ("Agent", "Group"):
        out["object"] = agent_fn(obj)
    elif kind == "SubStatement":
        out["object"] = _map_parts(obj, agent_fn, activity_fn, verb_fn)
    if "authority" in stmt:
        out["authority"] = agent_fn(stmt["authority"])
    if isinstance(stmt.get("context"), dict):
        ctx = dict(stmt["context"])
        for k in ("instructor", "team"):
            if k in ctx:
                ctx[k] = agent_fn(ctx[k])
        if "contextActivities" in ctx:
            ctx["contextActivities"] = {
                k: [activity_fn(a) for a in (v if isinstance(v, list) else [v])]
                for k, v in ctx["contextActivities"].items()
            }
        out["context"] = ctx
    return out


def format_ids(stmt: dict[str, Any]) -> dict[str, Any]:
    """``format=ids``: agents by identifier only, activities and verbs by id only (SubStatements too)."""
    return _map_parts(
        stmt,
        _ids_agent,
        lambda a: {"id": a["id"]},  # objectType "Activity" is the default: an id alone
        lambda v: {"id": v["id"]},
    )


def pick_language(value: dict[str, str], languages: list[str]) -> dict[str, str]:
    """The one entry of a language map that best fits the Accept-Language list."""
    if not value:
        return value
    lower = {k.lower(): k for k in value}
    for lang in languages:
        lang = lang.lower()
        if lang == "*":
            break
        if lang in lower:
            return {lower[lang]: value[lower[lang]]}
        for k_low, k in lower.items():
            if k_low.split("-")[0] == lang.split("-")[0]:
                return {k: value[k]}
    if "und" in value:
        return {"und": value["und"]}
    first = next(iter(value))
    return {first: value[first]}


def accept_languages(header: str) -> list[str]:
    out: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        part = part.strip()
        if not part:
            continue
        lang, _sep, params = part.partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if q > 0:
            out.append((-q, i, lang.strip()))
    return [lang for _q, _i, lang in sorted(out)]


def format_canonical(
    stmt: dict[str, Any], *, definitions: dict[str, dict[str, Any]], languages: list[str]
) -> dict[str, Any]:
    """``format=canonical``: activity definitions as the LRS knows them, every language map
    reduced to the one language that best fits Accept-Language."""

    def activity(a: dict[str, Any]) -> dict[str, Any]:
        out = {"objectType": "Activity", "id": a["id"]}
        definition = definitions.get(a["id"], a.get("definition"))
        if definition:
            definition = dict(definition)
            for k in ("name", "description"):
                if isinstance(definition.get(k), dict):
                    definition[k] = pick_language(definition[k], languages)
            for comp in ("choices", "scale", "source", "target", "steps"):
                if isinstance(definition.get(comp), list):
                    definition[comp] = [
                        {**c, "description": pick_language(c["description"], languages)}
                        if isinstance(c.get("description"), dict)
                        else c
                        for c in definition[comp]
                    ]
            out["definition"] = definition
        return out

    def verb(v: dict[str, Any]) -> dict[str, Any]:
        out = dict(v)
        if isinstance(v.get("display"), dict):
            out["display"] = pick_language(v["display"], languages)
        return out

    return _map_parts(stmt, lambda a: a, activity, verb)
