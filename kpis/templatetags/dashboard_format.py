"""Number formatting for the dashboards ("—" for no data, percentages, signed changes) and their CSV links."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django import template
from django.template.defaultfilters import floatformat
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()

DASH = "—"


def _number(value):
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


@register.filter
def num(value, digits=0):
    """A number with thousands separators (per locale), or — for no data."""
    number = _number(value)
    if number is None:
        return DASH
    return floatformat(number, f"{digits}g")


@register.filter
def pct(value, digits=1):
    number = _number(value)
    if number is None:
        return DASH
    return f"{floatformat(number, digits)}%"


@register.filter
def kpi_value(value, is_rate):
    return pct(value) if is_rate else num(value, 1 if _number(value) is not None and _number(value) % 1 else 0)


@register.filter
def signed(value, suffix=""):
    number = _number(value)
    if number is None:
        return DASH
    sign = "+" if number > 0 else ("−" if number < 0 else "±")
    return f"{sign}{floatformat(abs(number), 1)}{suffix}"


@register.filter
def share(value, whole):
    """value / whole as a percentage (0–100), or None."""
    number, total = _number(value), _number(whole)
    if number is None or not total:
        return None
    return round(100 * number / total, 1)


@register.simple_tag
def csv_link(qs: str = "", table: str = ""):
    """The CSV button of a dashboard: this page's filters (``qs``, urlencoded) plus format=csv, and table=
    for one table of the page ("CSV"); without a table, the page's main table ("Export CSV")."""
    params = {"format": "csv", **({"table": table} if table else {})}
    href = f"?{qs}&{urlencode(params)}" if qs else f"?{urlencode(params)}"
    return format_html('<a class="btn btn-sm" href="{}">{}</a>', href, _("CSV") if table else _("Export CSV"))
