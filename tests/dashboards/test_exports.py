"""CSV cells: dates and times in the language's one format, times in the tenant's time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.template import Context, Template
from django.utils import timezone, translation

from kpis.dashboards.exports import csv_response

UTC_TIME = dt.datetime(2026, 12, 2, 3, 17, 40, 757901, tzinfo=dt.UTC)


def body(response) -> str:
    return response.content.decode("utf-8-sig")


def test_csv_times_in_the_tenant_zone_and_the_language_format():
    rows = [("A", UTC_TIME, dt.date(2026, 12, 2))]
    with timezone.override(zoneinfo.ZoneInfo("Asia/Tokyo")), translation.override("ja"):
        ja = body(csv_response("x", ["n", "t", "d"], rows))
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")), translation.override("en"):
        en = body(csv_response("x", ["n", "t", "d"], rows))
    assert ja.splitlines()[1] == "A,2026/12/02 12:17,2026/12/02"
    assert en.splitlines()[1] == 'A,"Dec 1, 2026 22:17","Dec 2, 2026"'
    assert "+00:00" not in ja + en


def test_templates_and_csv_share_one_format_per_language():
    template = Template('{{ t|date:"SHORT_DATETIME_FORMAT" }}|{{ t|date:"DATETIME_FORMAT" }}|{{ d }}|{{ d|date }}')
    with timezone.override(zoneinfo.ZoneInfo("Asia/Tokyo")), translation.override("ja"):
        assert template.render(Context({"t": UTC_TIME, "d": dt.date(2026, 1, 5)})) == (
            "2026/12/02 12:17|2026/12/02 12:17|2026/01/05|2026/01/05"
        )
    with timezone.override(zoneinfo.ZoneInfo("Asia/Tokyo")), translation.override("en"):
        assert template.render(Context({"t": UTC_TIME, "d": dt.date(2026, 1, 5)})) == (
            "Dec 2, 2026 12:17|Dec 2, 2026 12:17|Jan 5, 2026|Jan 5, 2026"
        )
