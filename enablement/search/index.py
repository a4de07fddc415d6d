"""Keeping ``FaqTerm`` (the FAQ search index) in step with the FAQs.

``faq_index_asset`` runs whenever an FAQ asset is saved (``enablement.receivers``), so every
writer — services, admin, API, tests — keeps the index current; bulk writers (the demo seed)
call ``faq_reindex`` afterwards. Deleting an asset deletes its terms (CASCADE).
``manage.py faq_reindex`` rebuilds every tenant's index after an analyser upgrade.
"""

from __future__ import annotations

from collections import Counter

from django.db import transaction

from enablement.models import Asset, AssetKind, FaqField, FaqTerm
from enablement.search.analysis import index_terms
from partners.models import Tenant
from partners.tenancy import scope


def _rows(asset: Asset) -> list[FaqTerm]:
    fields = {
        FaqField.TITLE: asset.title,
        FaqField.KEYWORDS: " ".join([asset.category, *asset.tag_list]),
        FaqField.BODY: " ".join([asset.description, asset.body]),
    }
    rows = []
    for name, text in fields.items():
        for term, n in Counter(index_terms(text)).items():
            rows.append(FaqTerm(tenant_id=asset.tenant_id, asset_id=asset.pk, term=term, field=name, count=min(n, 999)))
    return rows


@transaction.atomic
def faq_index_asset(*, asset: Asset) -> int:
    """Rewrite one asset's terms (none unless it is an FAQ). Returns the number of rows."""
    with scope(tenant=asset.tenant_id):
        FaqTerm.objects.filter(tenant_id=asset.tenant_id, asset_id=asset.pk).delete()
        if asset.kind != AssetKind.FAQ:
            return 0
        rows = _rows(asset)
        FaqTerm.objects.bulk_create(rows, batch_size=500)
        return len(rows)


@transaction.atomic
def faq_reindex(*, tenant: Tenant) -> int:
    """Rebuild the whole index of one tenant. Returns the number of rows."""
    with scope(tenant=tenant.pk):
        FaqTerm.objects.filter(tenant=tenant).delete()
        rows: list[FaqTerm] = []
        for asset in Asset.objects.filter(tenant=tenant, kind=AssetKind.FAQ).order_by("pk"):
            rows.extend(_rows(asset))
        FaqTerm.objects.bulk_create(rows, batch_size=500)
        return len(rows)
