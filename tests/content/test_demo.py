"""The enablement demo step: deterministic, idempotent, consistent with the rules of the log."""

import datetime as dt

import pytest
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django_scopes import scope

from enablement import demo
from enablement.assessments import demo as assessments_demo
from enablement.assessments.models import Attempt
from enablement.models import ActivityEvent, Asset, Assignment, DocumentVersion, Verb
from enablement.pairs import assignment_pairs
from partners import demo as partners_demo
from partners.models import SupportActivity, Tenant

pytestmark = pytest.mark.django_db


def _counts(tenant):
    with scope(tenant=tenant.pk):
        return {
            "assets": Asset.objects.count(),
            "versions": DocumentVersion.objects.count(),
            "assignments": Assignment.objects.count(),
            "support": SupportActivity.objects.count(),
            "events": ActivityEvent.objects.count(),
            "by_verb": dict(ActivityEvent.objects.values_list("verb").annotate(n=Count("id")).order_by("verb")),
        }


def _seed_sakura():
    partners_demo.seed(log=lambda *a: None)
    tenant = Tenant.objects.get(slug="sakura")
    with scope(tenant=tenant.pk):
        assert demo.seed(tenant, log=lambda *a: None) is True
        assert assessments_demo.seed(tenant, log=lambda *a: None) is True
    return tenant


def test_seed_is_idempotent_and_consistent(settings):
    tenant = _seed_sakura()
    first = _counts(tenant)
    with scope(tenant=tenant.pk):
        assert demo.seed(tenant, log=lambda *a: None) is False  # idempotent: skips
        assert assessments_demo.seed(tenant, log=lambda *a: None) is False
    assert _counts(tenant) == first
    assert 20 <= first["assets"] <= 40 and first["versions"] > 10
    assert 5_000 <= first["events"] <= 60_000
    assert set(first["by_verb"]) == set(Verb.values)

    with scope(tenant=tenant.pk):
        master = Asset.objects.get(external_id=demo.MASTERCLASS_ID)
        assert master.title == "案件登録マスタークラス" and master.status == "published"
        assert not ActivityEvent.objects.filter(asset=master).exists()
        never = Asset.objects.filter(external_id__in=demo.NEVER_USED - {demo.MASTERCLASS_ID})
        assert not ActivityEvent.objects.filter(asset__in=never).exists()
        # zero-result searches and unhelpful answers exist
        assert ActivityEvent.objects.filter(verb=Verb.FAQ_SEARCHED, result_count=0, query="請求書 再発行").exists()
        assert ActivityEvent.objects.filter(verb=Verb.FAQ_FEEDBACK, resolved=False).exists()
        # every completion reached the threshold
        completed = ActivityEvent.objects.filter(verb=Verb.TRAINING_COMPLETED).select_related("asset")
        assert completed.exists()
        assert all(e.progress >= e.asset.completion_threshold for e in completed)
        # documents with a rule: the price list completes by download, the ROI guide by 5 minutes of reading
        rules = dict(Asset.objects.filter(kind="document").values_list("external_id", "completion_requires"))
        assert rules["doc-price-list"] == "download" and rules["doc-roi-guide"] == "time"
        assert_reads_consistent(tenant)
        # nothing happened (or was received) after the seed ran
        assert not ActivityEvent.objects.filter(tenant=tenant, received_at__gt=timezone.now()).exists()
        # the files exist
        for v in DocumentVersion.objects.all()[:3]:
            assert (settings.MEDIA_ROOT / v.file.name).read_bytes().startswith(b"%PDF-")
        assert assignment_pairs(tenant=tenant)
        # assessments: attempts after the assessment existed, each logged (attempted + graded with its score)
        attempts = list(Attempt.objects.select_related("asset"))
        assert attempts and any(a.passed for a in attempts) and any(not a.passed for a in attempts)
        assert all(a.asset.created_at < a.started_at < a.submitted_at for a in attempts)
        graded = {e.event_id: e for e in ActivityEvent.objects.filter(verb__in=[Verb.ASSESSMENT_PASSED, Verb.ASSESSMENT_FAILED])}
        for a in attempts:
            event = graded[f"assessment-attempt-{a.pk}-graded"]
            assert (event.verb == Verb.ASSESSMENT_PASSED) == a.passed and event.extra["score"] == a.score
            assert event.user_id == a.user_id and event.partner_id == a.partner_id


def assert_reads_consistent(tenant) -> None:
    """Every document.read is on a document completed by reading time, once per person, after a
    view of theirs at least the minimum reading time earlier (and not ahead of now)."""
    from django.utils import timezone

    reads = list(ActivityEvent.objects.filter(tenant=tenant, verb=Verb.DOCUMENT_READ).select_related("asset"))
    assert len(reads) > 10
    assert {r.asset.completion_requires for r in reads} == {"time"}
    assert len({(r.user_id, r.asset_id) for r in reads}) == len(reads)
    for r in reads:
        assert r.event_id == f"document.read:{r.user_id}:{r.asset_id}"
        assert r.occurred_at <= timezone.now()
        latest_view = r.occurred_at - dt.timedelta(seconds=r.asset.completion_min_seconds)
        assert ActivityEvent.objects.filter(tenant=tenant, user_id=r.user_id, asset_id=r.asset_id,
                                            verb=Verb.DOCUMENT_VIEWED, occurred_at__lte=latest_view).exists()


def test_seed_is_deterministic(monkeypatch):
    """Two runs give the same rows (strengths pinned: the real one hashes the tenant id, which a
    PostgreSQL sequence does not reuse after a rollback)."""
    import hashlib

    monkeypatch.setattr(demo, "partner_strength", lambda p: hashlib.sha256(p.name.encode()).digest()[0] / 255)
    monkeypatch.setattr(assessments_demo, "partner_strength", lambda p: hashlib.sha256(p.name.encode()).digest()[0] / 255)
    with transaction.atomic():
        first = _counts(_seed_sakura())
        transaction.set_rollback(True)
    second = _counts(_seed_sakura())
    assert first == second and first["events"] > 0
