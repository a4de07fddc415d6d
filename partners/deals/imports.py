"""CSV import of deal outcomes: parse and validate every row first (preview), then import all rows
in one transaction — or nothing while any row is invalid.

UTF-8 with or without BOM, or Shift_JIS / CP932 (what Excel writes as "CSV" on Japanese Windows);
headers in English or Japanese; dates YYYY-MM-DD or YYYY/MM/DD;
amounts may carry thousands separators and a currency sign. Rows are upserted by deal id. An open registration whose customer (normalised name or domain) another
partner holds an open registration for is flagged as a conflict in the preview (a warning: it is
still imported, and the manager sees it in the conflicts filter).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.deals.forms import CURRENCIES, IMPORT_MAX_BYTES
from partners.deals.models import OPEN_STAGES, Deal, DealSource, DealStage
from partners.deals.normalize import customer_key, registrable_domain
from partners.deals.services import deal_upsert
from partners.models import Partner, Tenant, User

MAX_ROWS = 5000
COLUMNS = ("partner_external_id", "deal_id", "customer", "customer_domain", "product", "amount", "currency", "stage",
           "closed_on", "expected_close_on")
REQUIRED = ("partner_external_id", "deal_id", "customer", "amount", "stage")
HEADER_ALIASES = {
    "partner": "partner_external_id", "partner_id": "partner_external_id", "パートナーid": "partner_external_id",
    "パートナー": "partner_external_id", "external_id": "deal_id", "案件id": "deal_id", "顧客": "customer",
    "顧客名": "customer", "顧客ドメイン": "customer_domain", "ドメイン": "customer_domain", "製品": "product", "金額": "amount", "通貨": "currency", "ステージ": "stage",
    "成約日": "closed_on", "クローズ日": "closed_on", "完了予定日": "expected_close_on", "受注予定日": "expected_close_on",
}
STAGE_ALIASES = {
    "登録": DealStage.REGISTERED, "差し戻し": DealStage.RETURNED, "期限切れ": DealStage.EXPIRED, "承認": DealStage.APPROVED, "却下": DealStage.REJECTED, "受注": DealStage.WON,
    "失注": DealStage.LOST, "closed won": DealStage.WON, "closed lost": DealStage.LOST,
}


@dataclass
class ImportRow:
    line: int
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)
    partner: Partner | None = None
    amount: Decimal | None = None
    stage: str = ""
    currency: str = ""
    closed_on: dt.date | None = None
    expected_close_on: dt.date | None = None
    exists: bool = False
    customer_domain: str = ""
    conflicts: list[str] = field(default_factory=list)
    customer_key: str = ""


@dataclass
class ImportPreview:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def invalid_rows(self) -> list[ImportRow]:
        return [r for r in self.rows if r.errors]

    @property
    def is_valid(self) -> bool:
        return not self.errors and bool(self.rows) and not self.invalid_rows

    @property
    def conflict_count(self) -> int:
        return sum(1 for r in self.rows if r.conflicts)

    @property
    def new_count(self) -> int:
        return sum(1 for r in self.rows if not r.exists)

    @property
    def update_count(self) -> int:
        return sum(1 for r in self.rows if r.exists)


def decode(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else Shift_JIS in Microsoft's CP932 variant (which
    Excel writes; a superset of Shift_JIS). Raises UnicodeDecodeError when it is neither."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp932")


def template_csv(*, tenant: Tenant) -> str:
    """The header and one example row, UTF-8 with a BOM and CRLF line ends (as Excel writes them)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow(["P-0001", "DEAL-0001", "株式会社サンプル", "sample.co.jp", "Shien Cloud", "1200000", tenant.currency,
                     "registered", "", (timezone.localdate() + dt.timedelta(days=60)).isoformat()])
    return "\ufeff" + out.getvalue()


def _date(value: str) -> dt.date:
    value = value.strip()
    if not re.fullmatch(r"\d{4}[-/]\d{1,2}[-/]\d{1,2}", value):
        raise ValueError(value)
    y, m, d = (int(x) for x in re.split(r"[-/]", value))
    return dt.date(y, m, d)


def _amount(value: str) -> Decimal:
    cleaned = re.sub(r"[\s,¥￥$€£円]", "", value)
    if not re.fullmatch(r"\d{1,12}(\.\d{1,2})?", cleaned):
        raise InvalidOperation(value)
    return Decimal(cleaned)


def parse(*, tenant: Tenant, text: str) -> ImportPreview:
    """Validate every row. Set-based lookups: one query for the partners, one for existing deals."""
    preview = ImportPreview()
    if len(text.encode()) > IMPORT_MAX_BYTES:
        preview.errors.append(_("The file is larger than 1 MB. Split it into smaller files."))
        return preview
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        preview.errors.append(_("The file is empty."))
        return preview
    except csv.Error as exc:
        preview.errors.append(_("Not a readable CSV file: %(error)s") % {"error": exc})
        return preview
    names = []
    for h in header:
        key = h.strip().lower().replace(" ", "_")
        names.append(HEADER_ALIASES.get(key, key))
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        preview.errors.append(_("Missing columns: %(cols)s") % {"cols": ", ".join(missing)})
        return preview
    raw_rows: list[tuple[int, dict[str, str]]] = []
    try:
        for line_no, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue
            if len(raw_rows) >= MAX_ROWS:
                preview.errors.append(_("More than %(n)s rows. Split the file.") % {"n": MAX_ROWS})
                return preview
            values = {name: (record[i].strip() if i < len(record) else "") for i, name in enumerate(names)}
            raw_rows.append((line_no, values))
    except csv.Error as exc:
        preview.errors.append(_("Not a readable CSV file: %(error)s") % {"error": exc})
        return preview
    if not raw_rows:
        preview.errors.append(_("The file has no data rows."))
        return preview
    partner_ids = {v["partner_external_id"] for _n, v in raw_rows if v.get("partner_external_id")}
    partners = {p.external_id: p for p in Partner.objects.filter(tenant=tenant, external_id__in=partner_ids)}
    deal_ids = {v["deal_id"] for _n, v in raw_rows if v.get("deal_id")}
    existing = set(Deal.objects.filter(tenant=tenant, external_id__in=deal_ids).values_list("external_id", flat=True))
    seen: dict[str, int] = {}
    for line_no, v in raw_rows:
        row = ImportRow(line=line_no, values=v)
        for col in REQUIRED:
            if not v.get(col):
                row.errors.append(_("%(col)s is required.") % {"col": col})
        pid = v.get("partner_external_id", "")
        if pid:
            row.partner = partners.get(pid)
            if row.partner is None:
                row.errors.append(_("Unknown partner external id “%(id)s”.") % {"id": pid})
        deal_id = v.get("deal_id", "")
        if deal_id:
            if len(deal_id) > 100:
                row.errors.append(_("The deal id is longer than 100 characters."))
            if deal_id in seen:
                row.errors.append(_("Deal id “%(id)s” repeats line %(line)s.") % {"id": deal_id, "line": seen[deal_id]})
            seen.setdefault(deal_id, line_no)
            row.exists = deal_id in existing
        if len(v.get("customer", "")) > 200:
            row.errors.append(_("The customer name is longer than 200 characters."))
        if v.get("customer_domain"):
            row.customer_domain = registrable_domain(v["customer_domain"])
            if not row.customer_domain:
                row.errors.append(_("Bad customer domain “%(value)s” (e.g. example.co.jp).") % {"value": v["customer_domain"]})
        if len(v.get("product", "")) > 200:
            row.errors.append(_("The product name is longer than 200 characters."))
        if v.get("amount"):
            try:
                row.amount = _amount(v["amount"])
            except InvalidOperation:
                row.errors.append(_("Bad amount “%(value)s” (a number ≥ 0, at most 2 decimals).") % {"value": v["amount"]})
        currency = (v.get("currency") or tenant.currency).upper()
        if currency not in CURRENCIES:
            row.errors.append(_("Unknown currency “%(value)s”.") % {"value": v.get("currency")})
        row.currency = currency
        stage_raw = v.get("stage", "")
        stage = STAGE_ALIASES.get(stage_raw.strip().lower(), stage_raw.strip().lower())
        if stage_raw and stage not in DealStage.values:
            row.errors.append(_("Unknown stage “%(value)s” (registered, approved, returned, rejected, expired, won, lost).") % {"value": stage_raw})
        row.stage = stage
        for col in ("closed_on", "expected_close_on"):
            if v.get(col):
                try:
                    setattr(row, col, _date(v[col]))
                except ValueError:
                    row.errors.append(_("Bad date “%(value)s” in %(col)s (use YYYY-MM-DD).") % {"value": v[col], "col": col})
        if stage in (DealStage.WON, DealStage.LOST) and not v.get("closed_on"):
            row.errors.append(_("Won and lost deals need closed_on."))
        preview.rows.append(row)
    _flag_conflicts(tenant, preview)
    return preview


def _flag_conflicts(tenant: Tenant, preview: ImportPreview) -> None:
    """Open rows whose customer another partner holds an open registration for: in the database (one
    query for the file) or earlier in the same file."""
    open_rows = [r for r in preview.rows if r.partner and r.stage in OPEN_STAGES and not r.errors]
    if not open_rows:
        return
    for r in open_rows:
        r.customer_key = customer_key(r.values.get("customer", ""))
    keys = {r.customer_key for r in open_rows if r.customer_key}
    domains = {r.customer_domain for r in open_rows if r.customer_domain}
    ids = {r.values["deal_id"] for r in open_rows}
    held = list(
        Deal.objects.filter(tenant=tenant, stage__in=OPEN_STAGES)
        .filter(Q(customer_key__in=keys) | Q(customer_domain__in=domains))
        .exclude(external_id__in=ids)
        .select_related("partner")
        .values_list("partner_id", "partner__name", "customer", "customer_key", "customer_domain")
    )
    held += [(r.partner.pk, r.partner.name, r.values["customer"], r.customer_key, r.customer_domain) for r in open_rows]
    for r in open_rows:
        for partner_id, partner_name, customer, key, domain in held:
            same = (r.customer_key and key == r.customer_key) or (r.customer_domain and domain == r.customer_domain)
            if same and partner_id != r.partner.pk:
                note = _("%(partner)s holds an open registration for “%(customer)s”.") % {
                    "partner": partner_name, "customer": customer}
                if note not in r.conflicts:
                    r.conflicts.append(note)


@transaction.atomic
def import_rows(*, tenant: Tenant, preview: ImportPreview, actor: User | None) -> tuple[int, int]:
    """Import every row in one transaction; refuses a preview with any error. Returns (created, updated)."""
    if not preview.is_valid:
        raise ValidationError(_("The file has errors: nothing was imported."))
    created = updated = 0
    for row in preview.rows:
        v = row.values
        _deal, was_created = deal_upsert(
            tenant=tenant,
            external_id=v["deal_id"],
            partner=row.partner,
            customer=v["customer"],
            customer_domain=row.customer_domain,
            product=v.get("product", ""),
            amount=row.amount,
            currency=row.currency,
            stage=row.stage,
            closed_on=row.closed_on,
            expected_close_on=row.expected_close_on,
            source=DealSource.IMPORT,
            actor=actor,
        )
        created += was_created
        updated += not was_created
    return created, updated
