"""Exact ingest under faults: concurrent duplicate batches get exact per-row answers from the
database, poisonous input is refused per row or per request with a reason (never a 500, the
valid rows stored), chunked bodies obey the size limit, and an out-of-range timestamp already in
the log breaks neither the rollup nor the pages and exports that read it."""

from __future__ import annotations

import datetime as dt
import io
import json
import random

import pytest
from django.test import Client
from django.urls import reverse
from django_scopes import scope

from enablement.models import ActivityEvent
from kpis.rollup import rollup_tenant
from tests import factories as f
from tests.api.concurrency import post_concurrently

URL = "/api/v1/events/"


def ev(i, **kw):
    base = {"event_id": f"ev-{i}", "verb": "document.viewed", "occurred_at": "2026-04-01T10:00:00+09:00",
            "partner": "acme-P1", "user": "taro@acme.example", "asset": "acme-doc"}
    base.update(kw)
    return base


def _count(tenant) -> int:
    with scope(tenant=tenant.pk):
        return ActivityEvent.objects.filter(tenant=tenant).count()


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_batches_get_exact_per_row_answers(world_a):
    ids = list(range(120))
    batches = []
    for k in range(8):
        order = ids[:]
        random.Random(k).shuffle(order)  # the same ids in different row orders
        batches.append({"events": [ev(i) for i in order]})
    answers = post_concurrently(URL, world_a.raw, batches)
    assert [code for code, _ in answers] == [200] * len(batches)
    accepted = [r["event_id"] for _, body in answers for r in body["results"] if r["status"] == "accepted"]
    assert sorted(accepted) == sorted(f"ev-{i}" for i in ids)  # each id accepted exactly once, overall
    assert sum(body["accepted"] for _, body in answers) == len(ids)
    assert _count(world_a.tenant) == len(ids)


@pytest.mark.parametrize(
    ("poison", "field"),
    [
        ({"query": "VPN\x00", "verb": "faq.searched", "asset": None}, "query"),
        ({"user": "taro\ud800@acme.example"}, "user"),
        ({"extra": {"note": "a\x00b"}}, "extra"),
        ({"extra": {"k\udc00": 1}}, "extra"),
        ({"extra": {"a": [[[[[[[[[[[1]]]]]]]]]]]}}, "extra"),
        ({"event_id": "bad\x00id"}, "event_id"),
    ],
)
def test_poisonous_rows_are_refused_with_a_reason_and_the_valid_rows_stored(api_a, world_a, poison, field):
    # json.dumps escapes the surrogates (\ud800), as a client's encoder does
    r = api_a.post(URL, json.dumps({"events": [ev(1), ev(2, **poison), ev(3)]}), content_type="application/json")
    assert r.status_code == 200
    body = r.json()
    assert [x["status"] for x in body["results"]] == ["accepted", "rejected", "accepted"]
    assert field in body["results"][1]["errors"]
    assert _count(world_a.tenant) == 2


def test_a_json_body_nested_too_deeply_is_a_400(api_a, world_a):
    deep = '{"events": [' + "[" * 100_000 + "]" * 100_000 + "]}"
    r = api_a.post(URL, deep, content_type="application/json")
    assert r.status_code == 400 and "nested" in r.json()["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_wrong_content_type_is_a_415(api_a, world_a, content_type):
    r = api_a.generic("POST", URL, json.dumps({"events": [ev(1)]}), content_type=content_type)
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    assert _count(world_a.tenant) == 0


def _chunked(api, payload: bytes, *, terminated: bool = True):
    """A body sent with Transfer-Encoding: chunked, as a de-chunking WSGI server hands it on."""
    return api.generic(
        "POST", URL, b"", content_type="application/json",
        **{"wsgi.input": io.BytesIO(payload), "CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked",
           "wsgi.input_terminated": terminated},
    )


def test_a_valid_chunked_batch_is_read(api_a, world_a):
    r = _chunked(api_a, json.dumps({"events": [ev(1), ev(2)]}).encode())
    assert r.status_code == 200 and r.json()["accepted"] == 2


def test_a_chunked_body_over_the_limit_is_a_413(api_a, world_a):
    r = _chunked(api_a, b'{"events": [' + b" " * (2 * 1024 * 1024) + b"]}")
    assert r.status_code == 413
    assert _chunked(api_a, b"{}", terminated=False).status_code == 411


# --- an out-of-range timestamp already stored -------------------------------------------------------


@pytest.fixture
def year_one(world_a, manager_a):
    """Go's zero time, stored before validation refused it, next to normal events."""
    tenant = world_a.tenant
    with scope(tenant=tenant.pk):
        for when in (dt.datetime(1, 1, 1, tzinfo=dt.UTC), dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC)):
            for verb, asset in (("document.viewed", world_a.doc), ("faq.searched", None), ("faq.viewed", world_a.faq)):
                f.ActivityEventFactory(tenant=tenant, partner=world_a.partner, user=world_a.member.user, asset=asset,
                                       verb=verb, query="vpn" if verb == "faq.searched" else "", occurred_at=when)
        f.ActivityEventFactory(tenant=tenant, partner=world_a.partner, user=world_a.member.user, asset=world_a.doc,
                               verb="document.viewed", occurred_at=dt.datetime(2026, 4, 1, 1, tzinfo=dt.UTC))
    return world_a


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles"])
def test_an_out_of_range_timestamp_does_not_break_the_rollup(year_one, zone):
    tenant = year_one.tenant
    tenant.time_zone = zone
    tenant.save(update_fields=["time_zone"])
    with scope(tenant=tenant.pk):
        rollup_tenant(tenant, full=True)
        rollup_tenant(tenant)
        rollup_tenant(tenant, since=dt.date(2026, 3, 1))


def test_an_out_of_range_timestamp_does_not_break_the_api_or_the_xapi_export(year_one, api_a):
    for query in ("?until=1000-01-01", "?since=0001-01-01T00:00:00Z", "?until=9999-12-31T23:59:59Z", ""):
        r = api_a.get(URL + query)
        assert r.status_code in (200, 400), (query, r.status_code)
    r = api_a.get(URL + "export-xapi/")
    assert r.status_code == 200
    statements = json.loads(b"".join(r.streaming_content))
    assert len(statements) == 7


def test_an_out_of_range_timestamp_does_not_break_the_scorecard(year_one, manager_a):
    tenant = year_one.tenant
    with scope(tenant=tenant.pk):
        rollup_tenant(tenant, full=True)
    client = Client()
    client.force_login(manager_a.user)
    url = reverse("manage-partner", kwargs={"tenant_slug": tenant.slug, "partner_id": year_one.partner.pk})
    assert client.get(url).status_code == 200
