"""What "completed" means: the one rule, per asset kind and per assigned pair.

* A user has *completed* an asset when the log holds a completion event of theirs for it:
  ``training.completed`` for a training, ``faq.viewed`` for an FAQ, ``assessment.passed`` for an
  assessment (graded on the server: ``enablement.assessments``; a failed attempt completes
  nothing). A document follows its own rule (``Asset.completion_requires``): *view* (the default)
  — ``document.viewed`` or anything stronger (``document.downloaded``, ``document.read``);
  *download* — ``document.downloaded``; *time* — ``document.read``, which only this server logs,
  once the user's reading sessions were credited the document's ``completion_min_seconds``
  (``enablement.services.reading``). The first such event is the completion time. An event sent with an API key that is not a trusted source
  (``trusted = false``) never completes anything.
* An assigned ``(partner, asset)`` pair is *done by* an instant when at least
  ``required_completions`` distinct users of the partner completed the asset before it; with one
  required completion, any completion event of the partner counts (external systems may send
  events without a user).
* A pair is *done on time* when it was done by the end of its due date (tenant-local day): that
  is what the enablement completion rate (支援消化率) counts. "Done by period end" is the same
  rule with the period's end as the deadline, shown as a secondary figure.

The rollup (SQL, ``completion_sql``), the portal (ORM, ``completion_q``), the KPI metrics, the
dashboards, the success patterns and the exports all use this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db.models import Q

from enablement.models import AssetKind, DocumentCompletion, Verb

# What completes a document, per its rule (``Asset.completion_requires``).
DOCUMENT_COMPLETION_VERBS: dict[str, tuple[str, ...]] = {
    DocumentCompletion.VIEW: (Verb.DOCUMENT_VIEWED, Verb.DOCUMENT_DOWNLOADED, Verb.DOCUMENT_READ),
    DocumentCompletion.DOWNLOAD: (Verb.DOCUMENT_DOWNLOADED,),
    DocumentCompletion.TIME: (Verb.DOCUMENT_READ,),
}

# The verbs that may complete an asset of each kind (for a document: under some rule; which one
# does is ``DOCUMENT_COMPLETION_VERBS``).
COMPLETION_VERBS: dict[str, tuple[str, ...]] = {
    AssetKind.TRAINING: (Verb.TRAINING_COMPLETED,),
    AssetKind.DOCUMENT: DOCUMENT_COMPLETION_VERBS[DocumentCompletion.VIEW],
    AssetKind.FAQ: (Verb.FAQ_VIEWED,),
    AssetKind.ASSESSMENT: (Verb.ASSESSMENT_PASSED,),
}

# Kinds that are learning (started, then completed by a user): what the training completion rate
# and the days to first completion count. A failed assessment attempt is a start, a pass completes.
LEARNING_KINDS: tuple[str, ...] = (AssetKind.TRAINING, AssetKind.ASSESSMENT)


def completion_verbs(kind: str, rule: str | None = None) -> tuple[str, ...]:
    """The verbs that complete an asset of ``kind`` (a document: under ``rule``, default view)."""
    if kind == AssetKind.DOCUMENT:
        return DOCUMENT_COMPLETION_VERBS.get(rule or DocumentCompletion.VIEW, ())
    return COMPLETION_VERBS.get(kind, ())


def is_completion(kind: str, verb: str, rule: str | None = None) -> bool:
    """Does an event with ``verb`` on an asset of ``kind`` (documents: with completion ``rule``) complete it?"""
    return verb in completion_verbs(kind, rule)


def asset_completes(asset, verb: str) -> bool:
    """Does ``verb`` complete this asset?"""
    return is_completion(asset.kind, verb, getattr(asset, "completion_requires", None))


def completion_q(prefix: str = "") -> Q:
    """The rule as a filter on ActivityEvent (``prefix`` when reached through a relation)."""
    q = Q()
    for kind, verbs in COMPLETION_VERBS.items():
        if kind == AssetKind.DOCUMENT:
            continue
        q |= Q(**{f"{prefix}asset__kind": kind, f"{prefix}verb__in": verbs})
    for rule, verbs in DOCUMENT_COMPLETION_VERBS.items():
        q |= Q(**{f"{prefix}asset__kind": AssetKind.DOCUMENT, f"{prefix}asset__completion_requires": rule,
                  f"{prefix}verb__in": verbs})
    return q & ~Q(**{f"{prefix}trusted": False})


def trusted_sql(*, trusted: str = "e.trusted") -> str:
    """SQL boolean: the event may count (decided here, or sent with a trusted-source key)."""
    return f"({trusted} IS NULL OR {trusted} = TRUE)"


def _listed(verbs) -> str:
    return ", ".join(f"'{v.value if hasattr(v, 'value') else v}'" for v in verbs)


def completion_sql(
    *,
    kind: str = "a.kind",
    verb: str = "e.verb",
    trusted: str | None = "e.trusted",
    requires: str = "a.completion_requires",
) -> str:
    """The rule as a SQL boolean over an asset-kind column, a verb column, the asset's document
    rule column (``requires``) and the event's ``trusted`` column (``None`` when the query has no
    event row; constants only)."""
    parts = []
    for asset_kind, verbs in COMPLETION_VERBS.items():
        if asset_kind == AssetKind.DOCUMENT:
            continue
        parts.append(f"({kind} = '{asset_kind.value}' AND {verb} IN ({_listed(verbs)}))")
    for doc_rule, verbs in DOCUMENT_COMPLETION_VERBS.items():
        parts.append(
            f"({kind} = '{AssetKind.DOCUMENT.value}' AND {requires} = '{doc_rule.value}' AND {verb} IN ({_listed(verbs)}))"
        )
    rule = "(" + " OR ".join(parts) + ")"
    return rule if trusted is None else f"({rule} AND {trusted_sql(trusted=trusted)})"


def pair_done(*, users: int, any_event: bool, required: int) -> bool:
    """Is a pair done, given how many distinct users completed it and whether the partner has any
    completion event at all (with or without a user)?"""
    required = max(int(required or 1), 1)
    return users >= required or (required == 1 and any_event)


def pair_done_by(
    user_completions: Sequence[dt.datetime],
    partner_first: dt.datetime | None,
    *,
    required: int,
    deadline: dt.datetime | None,
) -> bool:
    """Is a pair done before ``deadline`` (``None``: ever)?

    ``user_completions``: the first completion time of each of the partner's users;
    ``partner_first``: the partner's first completion event (users or not).
    """
    any_event = partner_first is not None and (deadline is None or partner_first < deadline)
    return pair_done(users=done_users(user_completions, deadline), any_event=any_event, required=required)


def done_users(user_completions: Sequence[dt.datetime], deadline: dt.datetime | None = None) -> int:
    """How many users had completed before ``deadline`` (``None``: ever)."""
    if deadline is None:
        return len(user_completions)
    return sum(1 for t in user_completions if t < deadline)
