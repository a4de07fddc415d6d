"""The assigned ``(partner, asset)`` pairs: the one expansion of assignments that every reader uses.

An assignment targets a partner, a tier or a segment, and names an asset or a learning path.
Expanded (one SQL statement, ``assignment_pairs``):

* tier and segment assignments reach the partners that are in the tier / segment *now* (closed
  periods are protected by the KPI engine's frozen pairs, ``kpis.targeting``);
* a learning path yields one row per asset of the path;
* only active assignments; archived assets are not targeted, nor is a partner outside the asset's
  audience (``enablement.audiences``): the portal does not show such pairs and the KPIs do not
  count them;
* a partner is targeted by an assignment only when it had joined by the due date
  (``joined_on <= due_on``): nobody is held to a deadline that passed before they joined.

``assigned_pairs`` then keeps one row per ``(partner, asset)``: when a pair is assigned more than
once (directly, through the tier or segment, in a path) the stricter terms win — the earliest
due date and the highest number of required completions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from django.db import connection
from django.db.models.expressions import RawSQL

from enablement.models import Asset, AssetStatus, Assignment, AudienceRule, LearningPathItem
from partners.models import Partner, Tenant


class AssignmentPair(NamedTuple):
    partner_id: int
    asset_id: int
    due_on: dt.date
    required_completions: int
    assignment_id: int
    learning_path_id: int | None = None
    tier_id: int | None = None  # the partner's tier and segment when the pair was expanded
    segment: str = ""


def assignment_pairs_sql(
    *, tenant: Tenant | int, partner_id: int | None = None, partner_ids: Sequence[int] | None = None
) -> tuple[str, list]:
    """The SQL (and params) behind ``assignment_pairs``, to embed as a sub-query or CTE; ``partner_id``
    or ``partner_ids`` (a non-empty list): those partners' rows only.

    Columns: partner_id, asset_id, due_on, required_completions, assignment_id, learning_path_id,
    tier_id, segment (the partner's, now).
    """
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    a, i, p, s = Assignment._meta.db_table, LearningPathItem._meta.db_table, Partner._meta.db_table, Asset._meta.db_table
    r = AudienceRule._meta.db_table
    extra_p, params_p = "", []
    if partner_id is not None:
        extra_p, params_p = " AND p.id = %s", [partner_id]
    elif partner_ids is not None:
        extra_p, params_p = f" AND p.id IN ({', '.join(['%s'] * len(partner_ids))})", [int(i) for i in partner_ids]
    # One row per (assignment, asset): the asset itself, or each item of the learning path.
    # Only table names (from model meta) and fixed fragments are formatted in; values are parameters.
    expanded = (
        f"SELECT a.id AS assignment_id, a.target, a.partner_id, a.tier_id, a.segment, a.due_on, "  # noqa: S608
        f"a.required_completions, a.learning_path_id, COALESCE(a.asset_id, i.asset_id) AS asset_id "
        f"FROM {a} a LEFT JOIN {i} i ON i.path_id = a.learning_path_id AND i.tenant_id = a.tenant_id "
        f"WHERE a.tenant_id = %s AND a.is_active = %s"
    )
    branch = (
        "SELECT p.id AS partner_id, x.asset_id, x.due_on, x.required_completions, x.assignment_id, "
        "x.learning_path_id, p.tier_id, p.segment "
        "FROM ({expanded}) x JOIN {p} p ON p.tenant_id = %s AND {cond} "
        "JOIN {s} s ON s.id = x.asset_id AND s.tenant_id = %s AND s.status <> %s "
        "WHERE x.target = %s AND p.joined_on <= x.due_on{extra_p} "
        # the asset's audience (enablement.audiences): no rule = everyone, else a matching rule
        "AND (NOT EXISTS (SELECT 1 FROM {r} r WHERE r.tenant_id = %s AND r.asset_id = x.asset_id) "
        "OR EXISTS (SELECT 1 FROM {r} r WHERE r.tenant_id = %s AND r.asset_id = x.asset_id AND "
        "(r.partner_id = p.id OR r.tier_id = p.tier_id OR (r.segment <> '' AND r.segment = p.segment))))"
    )
    parts, params = [], []
    for target, cond in (("partner", "p.id = x.partner_id"), ("tier", "p.tier_id = x.tier_id"),
                         ("segment", "p.segment = x.segment")):
        parts.append(branch.format(expanded=expanded, p=p, s=s, r=r, cond=cond, extra_p=extra_p))
        params += [tenant_id, True, tenant_id, tenant_id, AssetStatus.ARCHIVED.value, target, *params_p, tenant_id, tenant_id]
    return " UNION ALL ".join(parts), params


def assigned_pairs_sql(
    *, tenant: Tenant | int, partner_id: int | None = None, partner_ids: Sequence[int] | None = None
) -> tuple[str, list]:
    """The SQL (and params) behind ``assigned_pairs``: ``merge_pairs`` done in the database, one row
    per ``(partner, asset)`` — the row of the earliest due date (then the lowest assignment id), with
    the highest required completions of all its rows. Same columns as ``assignment_pairs_sql``
    (segment never NULL); embeddable as a sub-query (no CTE)."""
    sql, params = assignment_pairs_sql(tenant=tenant, partner_id=partner_id, partner_ids=partner_ids)
    merged = (
        "SELECT m.partner_id, m.asset_id, m.due_on, m.required_completions, m.assignment_id, "  # noqa: S608
        "m.learning_path_id, m.tier_id, m.segment FROM ("
        "SELECT ap.partner_id, ap.asset_id, ap.due_on, "
        "MAX(ap.required_completions) OVER (PARTITION BY ap.partner_id, ap.asset_id) AS required_completions, "
        "ap.assignment_id, ap.learning_path_id, ap.tier_id, COALESCE(ap.segment, '') AS segment, "
        "ROW_NUMBER() OVER (PARTITION BY ap.partner_id, ap.asset_id ORDER BY ap.due_on, ap.assignment_id) AS pair_rank "
        f"FROM ({sql}) ap) m WHERE m.pair_rank = 1"
    )
    return merged, params


def assigned_asset_ids_sql(*, tenant: Tenant | int, partner_id: int) -> RawSQL:
    """The asset ids targeted at one partner, as a sub-query for ``pk__in``."""
    sql, params = assignment_pairs_sql(tenant=tenant, partner_id=partner_id)
    return RawSQL(f"SELECT ap.asset_id FROM ({sql}) ap", params)  # noqa: S608, S611 - constants and bound parameters


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def assignment_pairs(*, tenant: Tenant | int, partner_id: int | None = None) -> list[AssignmentPair]:
    """Every targeted ``(partner, asset)`` row, one per assignment that reaches it (see the module
    docstring); group by ``(partner_id, asset_id)`` — or call ``assigned_pairs`` — to count pairs."""
    sql, params = assignment_pairs_sql(tenant=tenant, partner_id=partner_id)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY 1, 2, 5", params)
        rows = cursor.fetchall()
    return [AssignmentPair(r[0], r[1], _as_date(r[2]), r[3], r[4], r[5], r[6], r[7] or "") for r in rows]


def merge_pairs(rows: Iterable[AssignmentPair]) -> list[AssignmentPair]:
    """One row per ``(partner, asset)`` with the stricter terms: the earliest due date (its
    assignment and path) and the highest required completions."""
    pairs: dict[tuple[int, int], AssignmentPair] = {}
    for row in sorted(rows, key=lambda r: (r.due_on, r.assignment_id)):
        key = (row.partner_id, row.asset_id)
        first = pairs.get(key)
        if first is None:
            pairs[key] = row
        elif row.required_completions > first.required_completions:
            pairs[key] = first._replace(required_completions=row.required_completions)
    return list(pairs.values())


def assigned_pairs(*, tenant: Tenant | int, partner_id: int | None = None) -> list[AssignmentPair]:
    """One row per assigned ``(partner, asset)``: what the portal shows and the KPIs count."""
    return merge_pairs(assignment_pairs(tenant=tenant, partner_id=partner_id))
