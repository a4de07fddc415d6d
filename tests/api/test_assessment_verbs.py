"""The assessment verbs from outside: the events API (score, trusted-source rule, verb/kind fit)
and the xAPI mapping both ways (ADL attempted/passed/failed, result.score.scaled, result.success)."""

from __future__ import annotations

import pytest
from django_scopes import scope

from enablement.lrs.mapping import event_to_statement, export_rows
from enablement.models import ActivityEvent, Asset
from kpis.models import PartnerAssetState
from kpis.rollup import rollup_tenant
from partners.services import api_key_create
from tests import factories as f
from tests.api.conftest import basic_client, client_for
from tests.api.test_ingest import URL, ev
from tests.lrs.test_statements_legacy import ADL, stmt
from tests.lrs.test_statements_legacy import URL as XAPI_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def quiz_a(world_a):
    with scope(tenant=world_a.tenant.pk):
        quiz = f.AssetFactory(tenant=world_a.tenant, kind="assessment", title="Quiz", external_id="acme-quiz")
        Asset.objects.filter(pk=quiz.pk).update(created_at=world_a.video.created_at)
    return quiz


def _state(world, asset):
    with scope(tenant=world.tenant.pk):
        rollup_tenant(world.tenant, full=True)
        return PartnerAssetState.objects.filter(tenant=world.tenant, partner=world.partner, asset=asset).first()


def test_api_pass_with_score_completes_from_a_trusted_key_only(world_a, quiz_a):
    with scope(tenant=world_a.tenant.pk):
        _key, raw = api_key_create(tenant=world_a.tenant, name="Unvetted", scopes=["events:write"], actor=None)
    body = {"events": [ev(1, verb="assessment.passed", asset="acme-quiz", score=0.85, progress=None, seconds=None,
                          played_segments=None)]}
    assert client_for(raw).post(URL, body, format="json").json()["accepted"] == 1
    assert _state(world_a, quiz_a).first_completed_at is None  # kept, never completes
    body["events"][0]["event_id"] = "ev-2"
    assert client_for(world_a.raw).post(URL, body, format="json").json()["accepted"] == 1
    assert _state(world_a, quiz_a).completed_users == 1
    with scope(tenant=world_a.tenant.pk):
        event = ActivityEvent.objects.get(event_id="ev-2")
    assert (event.verb, event.extra, event.trusted) == ("assessment.passed", {"score": 0.85}, True)


def test_api_refuses_misfits(world_a, quiz_a):
    api = client_for(world_a.raw)
    rows = [
        ev(1, verb="assessment.passed", asset="acme-video", progress=None, seconds=None, played_segments=None),  # wrong kind
        ev(2, verb="training.completed", asset="acme-quiz", progress=100),  # wrong kind the other way
        ev(3, verb="assessment.attempted", asset="acme-quiz", score=0.5, progress=None, seconds=None, played_segments=None),
        ev(4, verb="assessment.failed", asset="acme-quiz", score=1.5, progress=None, seconds=None, played_segments=None),
        ev(5, verb="assessment.failed", asset=None, progress=None, seconds=None, played_segments=None),
    ]
    for row in rows:
        row.pop("asset") if row.get("asset") is None else None
    results = api.post(URL, {"events": rows}, format="json").json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * 5
    assert results[0]["reason"] == "verb_kind" and results[1]["reason"] == "verb_kind"
    assert "score" in results[2]["errors"] and "score" in results[3]["errors"] and "asset" in results[4]["errors"]


def test_xapi_passed_and_failed_map_to_the_log_with_score(world_a, quiz_a):
    client = basic_client(world_a.raw)
    statements = [
        stmt(verb=ADL + "attempted", activity="acme-quiz"),
        stmt(verb=ADL + "failed", activity="acme-quiz", result={"score": {"scaled": 0.4}, "success": False}),
        stmt(verb=ADL + "passed", activity="acme-quiz", result={"score": {"scaled": 0.9}, "success": True}),
        stmt(verb=ADL + "passed", activity="acme-video"),  # not an assessment: stored, unmapped
    ]
    assert client.post(XAPI_URL, statements, format="json").status_code == 200
    with scope(tenant=world_a.tenant.pk):
        mapped = list(ActivityEvent.objects.filter(tenant=world_a.tenant, source="xapi").order_by("id"))
    assert [(e.verb, e.extra.get("score"), e.extra.get("success")) for e in mapped] == [
        ("assessment.attempted", None, None), ("assessment.failed", 0.4, False), ("assessment.passed", 0.9, True)]
    assert _state(world_a, quiz_a).completed_users == 1  # the LMS key is a trusted source
    with scope(tenant=world_a.tenant.pk):
        rows = list(export_rows(ActivityEvent.objects.filter(tenant=world_a.tenant).order_by("id")))
    exported = [event_to_statement(r, base="https://shien.example") for r in rows]
    assert [s["verb"]["id"] for s in exported] == [ADL + "attempted", ADL + "failed", ADL + "passed"]
    assert exported[2]["result"] == {"success": True, "completion": True, "score": {"scaled": 0.9}}
    assert exported[1]["result"]["success"] is False and exported[1]["result"]["score"] == {"scaled": 0.4}
