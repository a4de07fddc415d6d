"""FAQ search that works for Japanese (no spaces between words) and English.

* Terms of three characters or more are matched by trigrams: SQLite FTS5 with the trigram
  tokenizer (``enablement_faq_fts``, kept in sync by triggers), PostgreSQL ``ILIKE`` backed by
  pg_trgm GIN indexes and ranked by trigram word similarity.
* Terms of one or two characters (common in Japanese: 請求, 保守) cannot be matched by trigrams:
  they fall back to a plain ``icontains`` on question and answer.
* All terms must match (AND); a hit in the question ranks above a hit in the answer.

The index migration is ``enablement/migrations/0004_faq_search_index.py``.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import StrIndex

from enablement.models import Asset, AssetKind, AssetStatus
from enablement.selectors.catalog import visible_assets
from partners.models import Partner, Tenant

MAX_TERMS = 6
MAX_RESULTS = 50


def split_terms(query: str) -> list[str]:
    """Whitespace (ASCII or ideographic) separated terms, deduplicated, at most MAX_TERMS."""
    seen: list[str] = []
    for term in query.replace("\u3000", " ").split():
        term = term.strip()[:100]
        if term and term.lower() not in (t.lower() for t in seen):
            seen.append(term)
    return seen[:MAX_TERMS]


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _sqlite_ranks(tenant: Tenant, terms: list[str]) -> dict[int, float]:
    """FTS5 trigram match of all long terms within the tenant's FAQs: {asset id: bm25 rank}."""
    match = " AND ".join(_fts_phrase(t) for t in terms)
    sql = (
        "SELECT f.rowid, bm25(enablement_faq_fts, 5.0, 1.0) FROM enablement_faq_fts f "
        "JOIN enablement_asset a ON a.id = f.rowid "
        "WHERE enablement_faq_fts MATCH %s AND a.tenant_id = %s AND a.kind = %s "
        "ORDER BY 2 LIMIT 500"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, tenant.pk, AssetKind.FAQ])
        return {row[0]: float(row[1]) for row in cursor.fetchall()}


def faq_search(*, tenant: Tenant, partner: Partner, query: str, limit: int = MAX_RESULTS) -> list[Asset]:
    """Ranked FAQs of the tenant that the partner may open and that match every term of ``query``."""
    terms = split_terms(query)
    if not terms:
        return []
    long_terms = [t for t in terms if len(t) >= 3]
    short_terms = [t for t in terms if len(t) < 3]
    qs: QuerySet[Asset] = visible_assets(tenant=tenant, partner=partner).filter(
        kind=AssetKind.FAQ, status=AssetStatus.PUBLISHED
    )
    for term in short_terms:
        qs = qs.filter(Q(title__icontains=term) | Q(body__icontains=term))

    # A hit in the question counts more than one in the answer, and an earlier hit more than a later one.
    first = terms[0]
    qs = qs.annotate(
        in_title=Case(When(title__icontains=first, then=Value(1)), default=Value(0), output_field=IntegerField()),
        title_pos=StrIndex("title", Value(first)),
    )
    ranks: dict[int, float] = {}
    if long_terms and connection.vendor == "sqlite":
        ranks = _sqlite_ranks(tenant, long_terms)
        qs = qs.filter(pk__in=list(ranks))
    elif long_terms:
        for term in long_terms:
            qs = qs.filter(Q(title__icontains=term) | Q(body__icontains=term))
        if connection.vendor == "postgresql":
            from django.contrib.postgres.search import TrigramWordSimilarity

            joined = " ".join(long_terms)
            qs = qs.annotate(
                similarity=TrigramWordSimilarity(Value(joined), "title") * 2
                + TrigramWordSimilarity(Value(joined), "body")
            )
    results = list(qs.select_related("team")[:500])
    # Lower bm25 is better; higher similarity is better. Ties: title hit first, then earlier position.
    if ranks:
        results.sort(key=lambda a: (-a.in_title, ranks.get(a.pk, 0.0), a.title_pos or 9999, a.title))
    elif hasattr(results[0] if results else None, "similarity"):
        results.sort(key=lambda a: (-a.in_title, -(a.similarity or 0.0), a.title_pos or 9999, a.title))
    else:
        results.sort(key=lambda a: (-a.in_title, a.title_pos or 9999, a.title))
    return results[:limit]

