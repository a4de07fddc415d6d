"""Demo data step for assessments (composed by ``seed_demo`` right after the enablement step).

Per tenant, in its language: two published assessments with question banks of every type — a
product quiz (pass mark 70%, 3 attempts, 15 minutes, 5 of 8 questions drawn, random order),
assigned to the second tier, and a deal-registration rules check (80%, unlimited attempts, all
questions) — and graded attempts by some partner users over the last 60 days (after the
assessments were published), more and better ones by stronger partners
(``partners.demo.partner_strength``). Each attempt is logged like the portal logs it
(attempted, then passed/failed with the score). Deterministic; skipped when the tenant has
assessments already.
"""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone

from enablement.assessments.models import (
    AssessmentSettings,
    Attempt,
    AttemptStatus,
    Choice,
    Question,
    QuestionKind,
    ShortMatch,
)
from enablement.assessments.services import grade_answers
from enablement.models import (
    ActivityEvent,
    Asset,
    AssetKind,
    AssetStatus,
    Assignment,
    AssignmentTarget,
    EventSource,
    Verb,
)
from enablement.services.log import activity_record_many
from partners.demo import SEED, partner_strength
from partners.models import Membership, PartnerTier, Role

PRODUCT_QUIZ = "asm-product-fundamentals"
DEAL_RULES = "asm-deal-registration-rules"

# (external id, title, description, settings, questions)
# question: (kind, text, choices [(text, correct)] | truth | accepted answers, explanation)
ASSESSMENTS = {
    "ja": [
        (PRODUCT_QUIZ, "製品基礎 確認テスト", "製品概要研修の理解度を確認します。8問から5問が出題されます。",
         {"pass_mark": 70, "attempt_limit": 3, "time_limit_minutes": 15, "draw_count": 5, "shuffle": True}, [
             (QuestionKind.SINGLE, "標準プランで利用できる最大ユーザー数は？", [("50", False), ("100", True), ("500", False), ("無制限", False)], "標準プランは100ユーザーまでです。"),
             (QuestionKind.MULTIPLE, "SSOで対応しているプロトコルをすべて選んでください。", [("SAML 2.0", True), ("OpenID Connect", True), ("Kerberos", False), ("FTP", False)], "SAML 2.0とOpenID Connectに対応しています。"),
             (QuestionKind.TRUE_FALSE, "データは国内のデータセンターに保存される。", True, "国内リージョンのみで保管します。"),
             (QuestionKind.SHORT, "管理画面で権限を束ねる単位を何と呼びますか？（カタカナ4文字）", ["ロール"], "権限はロール単位で付与します。"),
             (QuestionKind.SINGLE, "無償トライアルの期間は？", [("7日間", False), ("14日間", False), ("30日間", True)], "トライアルは30日間です。"),
             (QuestionKind.MULTIPLE, "年間契約の特典に含まれるものをすべて選んでください。", [("優先サポート", True), ("導入支援", True), ("ハードウェア提供", False)], ""),
             (QuestionKind.TRUE_FALSE, "APIの利用には追加ライセンスが必要である。", False, "APIは全プランで利用できます。"),
             (QuestionKind.SHORT, "サポート窓口の受付時間の開始時刻は？（例: 9:00）", ["9:00", "9時", "09:00"], "平日9:00から受け付けます。"),
         ]),
        (DEAL_RULES, "案件登録ルール 確認テスト", "案件登録と承認のルールを確認します。",
         {"pass_mark": 80, "attempt_limit": 0, "time_limit_minutes": None, "draw_count": 0, "shuffle": False}, [
             (QuestionKind.SINGLE, "案件登録の有効期間は？", [("30日", False), ("90日", True), ("180日", False)], "登録から90日間有効です。"),
             (QuestionKind.TRUE_FALSE, "同じ顧客の案件を2社が登録した場合、先に承認された登録が優先される。", True, ""),
             (QuestionKind.MULTIPLE, "登録時に必須の項目をすべて選んでください。", [("顧客名", True), ("想定金額", True), ("担当者の趣味", False)], ""),
             (QuestionKind.SHORT, "登録後、承認までの標準日数は？（数字のみ）", ["3", "３"], "通常3営業日で承認されます。"),
         ]),
    ],
    "en": [
        (PRODUCT_QUIZ, "Product Fundamentals Quiz", "Checks what the product overview training taught. 5 of 8 questions are drawn.",
         {"pass_mark": 70, "attempt_limit": 3, "time_limit_minutes": 15, "draw_count": 5, "shuffle": True}, [
             (QuestionKind.SINGLE, "How many users does the Standard plan allow at most?", [("50", False), ("100", True), ("500", False), ("Unlimited", False)], "The Standard plan allows 100 users."),
             (QuestionKind.MULTIPLE, "Which single sign-on protocols are supported? Choose all that apply.", [("SAML 2.0", True), ("OpenID Connect", True), ("Kerberos", False), ("FTP", False)], "SAML 2.0 and OpenID Connect."),
             (QuestionKind.TRUE_FALSE, "Customer data is stored in the customer's region.", True, "Data never leaves the chosen region."),
             (QuestionKind.SHORT, "What is the unit that bundles permissions in the admin console? (one word)", ["role"], "Permissions are granted per role."),
             (QuestionKind.SINGLE, "How long is the free trial?", [("7 days", False), ("14 days", False), ("30 days", True)], "The trial lasts 30 days."),
             (QuestionKind.MULTIPLE, "What comes with an annual contract? Choose all that apply.", [("Priority support", True), ("Onboarding help", True), ("Free hardware", False)], ""),
             (QuestionKind.TRUE_FALSE, "Using the API needs an extra licence.", False, "The API is included in every plan."),
             (QuestionKind.SHORT, "At what time does the support desk open? (e.g. 9:00)", ["9:00", "9am", "09:00"], "Weekdays from 9:00."),
         ]),
        (DEAL_RULES, "Deal Registration Rules Check", "Checks the rules of deal registration and approval.",
         {"pass_mark": 80, "attempt_limit": 0, "time_limit_minutes": None, "draw_count": 0, "shuffle": False}, [
             (QuestionKind.SINGLE, "How long is a deal registration valid?", [("30 days", False), ("90 days", True), ("180 days", False)], "90 days from registration."),
             (QuestionKind.TRUE_FALSE, "When two partners register the same customer, the registration approved first wins.", True, ""),
             (QuestionKind.MULTIPLE, "Which fields are required when registering? Choose all that apply.", [("Customer name", True), ("Expected amount", True), ("Contact's hobby", False)], ""),
             (QuestionKind.SHORT, "How many business days does approval usually take? (a number)", ["3", "three"], "Usually 3 business days."),
         ]),
    ],
}


def _bank(tenant, asset: Asset, questions) -> None:
    for position, (kind, text, spec, explanation) in enumerate(questions, start=1):
        q = Question.objects.create(
            tenant=tenant, asset=asset, kind=kind, text=text, position=position, explanation=explanation,
            correct_true=spec if kind == QuestionKind.TRUE_FALSE else None,
            short_match=ShortMatch.EXACT, accepted_answers="\n".join(spec) if kind == QuestionKind.SHORT else "",
        )
        if kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
            Choice.objects.bulk_create([Choice(tenant=tenant, question=q, text=t, is_correct=ok, position=i)
                                        for i, (t, ok) in enumerate(spec)])


def _answers(rng: random.Random, questions: dict[int, Question], ids: list[int], skill: float) -> dict[str, list[str]]:
    """Answers a user of this skill might give: right with probability ``skill``."""
    out: dict[str, list[str]] = {}
    for qid in ids:
        q = questions[qid]
        right = rng.random() < skill
        if q.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
            choices = list(q.choices.all())
            correct = [c.pk for c in choices if c.is_correct]
            wrong = [c.pk for c in choices if not c.is_correct]
            if right:
                picked = correct
            elif q.kind == QuestionKind.MULTIPLE and len(correct) > 1 and rng.random() < 0.6:
                picked = correct[:1] + wrong[:1]  # partly right
            else:
                picked = [rng.choice(wrong)]
            out[str(qid)] = [str(c) for c in picked]
        elif q.kind == QuestionKind.TRUE_FALSE:
            out[str(qid)] = ["true" if (q.correct_true == right) else "false"]
        else:
            out[str(qid)] = [q.accepted_list[0] if right else "?"]
    return out


def seed(tenant, *, log=print) -> bool:
    if Asset.objects.filter(tenant=tenant, kind=AssetKind.ASSESSMENT).exists():
        return False
    rng = random.Random(f"{SEED}:assessments:{tenant.slug}")
    lang = "ja" if tenant.default_language == "ja" else "en"
    now = timezone.now()
    published = now - dt.timedelta(days=75)
    admin = Membership.objects.filter(tenant=tenant, role=Role.TENANT_ADMIN).order_by("id").values_list("user_id", flat=True).first()
    with transaction.atomic():
        assets = []
        for ext_id, title, desc, conf, questions in ASSESSMENTS[lang]:
            asset = Asset.objects.create(
                tenant=tenant, kind=AssetKind.ASSESSMENT, title=title, description=desc, language=lang,
                category="製品" if lang == "ja" else "Product", status=AssetStatus.PUBLISHED, external_id=ext_id,
                created_by_id=admin, created_at=published, published_at=published,
            )
            AssessmentSettings.objects.create(tenant=tenant, asset=asset, **conf)
            _bank(tenant, asset, questions)
            assets.append((asset, conf))
        tiers = list(PartnerTier.objects.filter(tenant=tenant).order_by("rank", "id"))
        if tiers:
            tier = tiers[min(1, len(tiers) - 1)]
            Assignment.objects.create(
                tenant=tenant, asset=assets[0][0], target=AssignmentTarget.TIER, tier=tier,
                due_on=now.astimezone(tenant.zoneinfo).date() + dt.timedelta(days=21), source="demo",
                created_by_id=admin, created_at=published + dt.timedelta(days=1),
            )
        members = list(
            Membership.objects.filter(tenant=tenant, role=Role.PARTNER_USER, is_active=True, partner__isnull=False)
            .select_related("user", "partner__tier").order_by("id")
        )
        attempts: list[Attempt] = []
        for asset, conf in assets:
            questions = {q.pk: q for q in Question.objects.filter(tenant=tenant, asset=asset).prefetch_related("choices")}
            bank = sorted(questions)
            for m in members:
                email = m.user.email
                if email.startswith("partner@"):  # the nurturing demo login: one failed try at the quiz, none at the rules
                    tries = 1 if asset.external_id == PRODUCT_QUIZ else 0
                    skill = 0.3
                elif email.startswith("top@"):
                    tries, skill = (1, 0.95) if asset.external_id == DEAL_RULES else (0, 0.0)
                else:
                    s = partner_strength(m.partner)
                    if rng.random() > 0.25 + 0.5 * s:
                        continue
                    tries, skill = rng.choice([1, 1, 2, 3]), 0.35 + 0.55 * s
                limit = conf["attempt_limit"] or 5
                # never before the asset, the partner or the person existed
                earliest = max(published, m.partner.created_at, m.user.date_joined)
                start = earliest + dt.timedelta(days=rng.randint(5, 60), hours=rng.uniform(1, 8))
                for number in range(1, min(tries, limit) + 1):
                    drawn = rng.sample(bank, conf["draw_count"]) if conf["draw_count"] else list(bank)
                    attempt = Attempt(
                        tenant=tenant, asset=asset, user=m.user, partner=m.partner, number=number,
                        status=AttemptStatus.GRADED, started_at=start, pass_mark=conf["pass_mark"],
                        deadline=start + dt.timedelta(minutes=conf["time_limit_minutes"]) if conf["time_limit_minutes"] else None,
                        question_ids=drawn,
                        choice_order={str(q): [c.pk for c in questions[q].choices.all()] for q in drawn},
                        submitted_at=start + dt.timedelta(minutes=rng.uniform(3, 12)),
                    )
                    attempt.score, attempt.results = grade_answers(attempt, _answers(rng, questions, drawn, skill), timed_out=False)
                    attempt.passed = round(attempt.score * 100, 2) >= attempt.pass_mark
                    attempts.append(attempt)
                    if attempt.passed:
                        break
                    skill = min(0.98, skill + 0.15)  # they studied in between
                    start += dt.timedelta(days=rng.randint(1, 6), hours=rng.uniform(0, 3))
        attempts = [a for a in attempts if a.submitted_at < now - dt.timedelta(minutes=10)]
        Attempt.objects.bulk_create(attempts)
        stored = list(Attempt.objects.filter(tenant=tenant).select_related("asset"))
        events = []
        for a in stored:
            for verb, at, extra, suffix in (
                (Verb.ASSESSMENT_ATTEMPTED, a.started_at, {}, "start"),
                (Verb.ASSESSMENT_PASSED if a.passed else Verb.ASSESSMENT_FAILED, a.submitted_at,
                 {"score": a.score, "timed_out": False}, "graded"),
            ):
                events.append(ActivityEvent(
                    tenant=tenant, partner_id=a.partner_id, user_id=a.user_id, asset_id=a.asset_id, verb=verb,
                    occurred_at=at, received_at=at + dt.timedelta(seconds=2), source=EventSource.PORTAL,
                    event_id=f"assessment-attempt-{a.pk}-{suffix}", extra={"attempt": a.number, **extra},
                ))
        if events:
            activity_record_many(tenant=tenant, events=events)
    passed = sum(1 for a in stored if a.passed)
    log(f"  {tenant.slug}: {len(assets)} assessments, {len(stored)} attempts ({passed} passed)")
    return True



