"""FAQ search: analysed query → ``FaqTerm`` rows → ranked FAQs. The same on SQLite and PostgreSQL.

* The query is analysed like the FAQs (``enablement.search.analysis``): one *group* per word.
* A group matches an FAQ through any of its *alternatives*: the word itself, all of its short
  parts (申請方法 → 申請 + 方法), or a synonym from the tenant's
  synonym list (値引き ⇔ ディスカウント; a phrase synonym needs all of its words).
* Score = Σ over matched groups of idf(term) × field weight (question 3 > category/tags 2 >
  answer 1), times the share of groups matched, so an FAQ matching every word ranks first. An
  FAQ must match half of the words of a short query and 60 % of a longer, natural one
  ("パスワードを忘れてログインできません"), and score at least 30 % of the best result.
* Only the tenant's published FAQs that the partner may open are returned (``visible_assets``).

Queries: synonyms 1, term rows 1, FAQ count 1, visible FAQs 1 — whatever the query.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import QuerySet

from enablement.models import Asset, AssetKind, AssetStatus, FaqField, FaqSynonym, FaqTerm, split_synonyms
from enablement.search.analysis import Group, analyse
from enablement.selectors.catalog import visible_assets
from partners.models import Partner, Tenant

MAX_GROUPS = 12
MAX_RESULTS = 50
FIELD_WEIGHT = {FaqField.TITLE: 3.0, FaqField.KEYWORDS: 2.0, FaqField.BODY: 1.0}
ALL_PARTS_FACTOR = 0.9
ONE_PART_FACTOR = 0.5
SYNONYM_FACTOR = 0.9
RELATIVE_CUTOFF = 0.3  # results scoring under 30 % of the best one are noise ("申請" alone in 値引きを申請したい)


@dataclass(frozen=True)
class Alternative:
    terms: tuple[str, ...]
    factor: float
    partial: bool = False  # one short part of a long word: adds to the score, does not count as a match


@dataclass
class QueryGroup:
    label: str
    alternatives: list[Alternative]

    @property
    def terms(self) -> set[str]:
        return {t for a in self.alternatives for t in a.terms}


def _alternatives(groups: list[Group], factor: float = 1.0) -> list[Alternative]:
    if len(groups) > 1:  # a phrase: every word
        return [Alternative(tuple(g.term for g in groups), factor)]
    g = groups[0]
    alts = [Alternative((g.term,), factor)]
    if len(g.parts) > 1:
        alts.append(Alternative(g.parts, factor * ALL_PARTS_FACTOR))
    if g.parts:
        alts.extend(Alternative((p,), factor * ONE_PART_FACTOR, partial=True) for p in g.parts)
    return alts


def synonym_rings(values: list[str]) -> list[list[list[Group]]]:
    """Each synonym row as a list of analysed phrases (phrases that analyse to nothing are dropped)."""
    rings = []
    for value in values:
        phrases = [p for p in (analyse(s) for s in split_synonyms(value)) if p]
        if len(phrases) > 1:
            rings.append(phrases)
    return rings


def build_query(query: str, synonyms: list[str] | None = None) -> list[QueryGroup]:
    """The groups of a query, with synonyms expanded (longest phrase first)."""
    words = analyse(query)
    rings = synonym_rings(synonyms or [])
    by_start: dict[str, list[tuple[tuple[str, ...], int]]] = defaultdict(list)
    for i, ring in enumerate(rings):
        for phrase in ring:
            key = tuple(g.term for g in phrase)
            by_start[key[0]].append((key, i))
    for entries in by_start.values():
        entries.sort(key=lambda e: -len(e[0]))
    out: list[QueryGroup] = []
    seen: set[str] = set()
    i = 0
    while i < len(words) and len(out) < MAX_GROUPS:
        terms = [g.term for g in words]
        match = next(
            ((key, ring) for key, ring in by_start.get(terms[i], []) if tuple(terms[i : i + len(key)]) == key), None
        )
        if match:
            key, ring = match
            phrase = words[i : i + len(key)]
            alts = _alternatives(phrase)
            for other in rings[ring]:
                if tuple(g.term for g in other) != key:
                    alts.extend(_alternatives(other, SYNONYM_FACTOR))
            label = " ".join(key)
            i += len(key)
        else:
            label, alts = words[i].term, _alternatives([words[i]])
            i += 1
        if label not in seen:
            seen.add(label)
            out.append(QueryGroup(label, alts))
    return out


def required_matches(n_groups: int) -> int:
    """Words of the query an FAQ must match: half of a short query, 60 % of a longer one."""
    return math.ceil(n_groups * 0.5) if n_groups <= 3 else math.ceil(n_groups * 0.6)


def rank(groups: list[QueryGroup], rows, total: int) -> list[tuple[int, float]]:
    """``rows`` = (asset id, term, field, count) → [(asset id, score)], best first."""
    per_term: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for asset_id, term, field_name, count in rows:
        weight = FIELD_WEIGHT.get(field_name, 1.0) * (1 + 0.1 * min(count - 1, 3))
        per_term[asset_id][term].append(weight)
    df: dict[str, int] = defaultdict(int)
    for terms in per_term.values():
        for term in terms:
            df[term] += 1
    n = max(total, len(per_term), 1)
    idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
    need = required_matches(len(groups))
    scored = []
    for asset_id, terms in per_term.items():
        weight = {t: max(ws) + 0.2 * (sum(ws) - max(ws)) for t, ws in terms.items()}
        total_score, matched = 0.0, 0
        for group in groups:
            best, full = 0.0, False
            for alt in group.alternatives:
                if all(t in weight for t in alt.terms):
                    best = max(best, alt.factor * sum(idf[t] * weight[t] for t in alt.terms))
                    full = full or not alt.partial
            matched += full
            total_score += best
        if matched >= need and matched:
            scored.append((asset_id, total_score * matched / len(groups)))
    scored.sort(key=lambda s: -s[1])
    if scored:
        floor = scored[0][1] * RELATIVE_CUTOFF
        scored = [s for s in scored if s[1] >= floor]
    return scored


def faq_search(*, tenant: Tenant, partner: Partner, query: str, limit: int = MAX_RESULTS) -> list[Asset]:
    """Ranked published FAQs of the tenant that the partner may open, for a natural-language query."""
    synonyms = list(FaqSynonym.objects.filter(tenant=tenant).values_list("terms", flat=True))
    groups = build_query(query, synonyms)
    if not groups:
        return []
    terms = set().union(*(g.terms for g in groups))
    published: QuerySet[Asset] = Asset.objects.filter(tenant=tenant, kind=AssetKind.FAQ, status=AssetStatus.PUBLISHED)
    rows = FaqTerm.objects.filter(
        tenant=tenant, term__in=sorted(terms), asset__kind=AssetKind.FAQ, asset__status=AssetStatus.PUBLISHED
    ).values_list("asset_id", "term", "field", "count")
    ranked = rank(groups, list(rows), published.count())
    if not ranked:
        return []
    scores = dict(ranked[:500])
    visible = visible_assets(tenant=tenant, partner=partner).filter(
        kind=AssetKind.FAQ, status=AssetStatus.PUBLISHED, pk__in=list(scores)
    )
    results = list(visible.select_related("team"))
    for asset in results:
        asset.search_score = scores[asset.pk]
    results.sort(key=lambda a: (-a.search_score, a.title, a.pk))
    return results[:limit]
