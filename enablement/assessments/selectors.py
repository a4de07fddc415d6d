"""Reads of assessments: the bank (manage), the portal's view of an attempt (no correct answers
before grading), the review of a graded attempt, and the attempts table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet

from enablement.assessments.models import AssessmentSettings, Attempt, AttemptStatus, Question, QuestionKind
from enablement.models import Asset
from partners.models import Tenant, User


def question_bank(*, tenant: Tenant, asset: Asset) -> QuerySet[Question]:
    return Question.objects.filter(tenant=tenant, asset=asset).prefetch_related("choices").order_by("position", "id")


@dataclass
class PortalState:
    settings: AssessmentSettings
    graded: list[Attempt]
    open_attempt: Attempt | None
    questions_in_bank: int

    @property
    def used(self) -> int:
        return len(self.graded) + (1 if self.open_attempt else 0)

    @property
    def passed(self) -> bool:
        return any(a.passed for a in self.graded)

    @property
    def attempts_left(self) -> int | None:
        """None: unlimited."""
        if not self.settings.attempt_limit:
            return None
        return max(self.settings.attempt_limit - self.used, 0)

    @property
    def best(self) -> Attempt | None:
        scored = [a for a in self.graded if a.score is not None]
        return max(scored, key=lambda a: a.score) if scored else None

    @property
    def can_start(self) -> bool:
        return (
            self.open_attempt is None and not self.passed and self.questions_in_bank > 0
            and (self.attempts_left is None or self.attempts_left > 0)
        )

    @property
    def questions_per_attempt(self) -> int:
        n = self.settings.draw_count
        return min(n, self.questions_in_bank) if n else self.questions_in_bank


def portal_state(*, tenant: Tenant, user: User, asset: Asset) -> PortalState:
    settings = AssessmentSettings.objects.filter(tenant=tenant, asset=asset).first() or AssessmentSettings(
        tenant=tenant, asset=asset
    )
    attempts = list(Attempt.objects.filter(tenant=tenant, user=user, asset=asset).order_by("number"))
    return PortalState(
        settings=settings,
        graded=[a for a in attempts if a.status == AttemptStatus.GRADED],
        open_attempt=next((a for a in attempts if a.status == AttemptStatus.OPEN), None),
        questions_in_bank=Question.objects.filter(tenant=tenant, asset=asset).count(),
    )


def attempt_for_user(*, tenant: Tenant, user: User, asset: Asset, attempt_id: int) -> Attempt:
    """The user's own attempt at the asset (``DoesNotExist`` otherwise: the view answers 404)."""
    return Attempt.objects.get(tenant=tenant, user=user, asset=asset, pk=attempt_id)


def attempt_paper(*, tenant: Tenant, attempt: Attempt) -> list[dict[str, Any]]:
    """The questions of an attempt in its order, as plain rows with NO correctness data: what the
    taking page renders (only ids and texts leave the server)."""
    bank = {q.pk: q for q in Question.objects.filter(tenant=tenant, asset_id=attempt.asset_id, pk__in=attempt.question_ids)
            .prefetch_related("choices")}
    paper = []
    for qid in attempt.question_ids:
        q = bank.get(qid)
        if q is None:
            continue
        texts = {c.pk: c.text for c in q.choices.all()}
        order = [cid for cid in attempt.choice_order.get(str(qid), []) if cid in texts]
        paper.append({
            "id": q.pk,
            "kind": q.kind,
            "text": q.text,
            "choices": [{"id": cid, "text": texts[cid]} for cid in order],
        })
    return paper


@dataclass
class ReviewItem:
    number: int
    text: str
    kind: str
    score: float
    answer: str
    correct_answer: str = ""
    explanation: str = ""
    choices: list[dict] = field(default_factory=list)

    @property
    def right(self) -> bool:
        return self.score >= 1

    @property
    def percent(self) -> float:
        return round(self.score * 100)


def attempt_review(*, tenant: Tenant, attempt: Attempt, reveal: bool, true_label: str, false_label: str) -> list[ReviewItem]:
    """Per question of a graded attempt: the answer given and its score; the correct answer and
    the explanation only when ``reveal`` (after a pass, or when no attempt is left)."""
    bank = {q.pk: q for q in Question.objects.filter(tenant=tenant, asset_id=attempt.asset_id, pk__in=attempt.question_ids)
            .prefetch_related("choices")}
    items = []
    for number, qid in enumerate(attempt.question_ids, start=1):
        q = bank.get(qid)
        result = attempt.results.get(str(qid))
        if q is None or result is None:
            continue
        given = result.get("answer")
        choices = list(q.choices.all())
        if q.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
            texts = {c.pk: c.text for c in choices}
            answer = ", ".join(texts[c] for c in (given or []) if c in texts)
            correct = ", ".join(c.text for c in choices if c.is_correct)
        elif q.kind == QuestionKind.TRUE_FALSE:
            answer = "" if given is None else (true_label if given else false_label)
            correct = true_label if q.correct_true else false_label
        else:
            answer = given or ""
            correct = " / ".join(q.accepted_list) if q.accepted_list else q.pattern
        items.append(ReviewItem(
            number=number, text=q.text, kind=q.kind, score=float(result.get("score") or 0), answer=answer,
            correct_answer=correct if reveal else "", explanation=q.explanation if reveal else "",
        ))
    return items


def attempt_rows(*, tenant: Tenant, asset: Asset, partner_id: int | None = None, result: str = "") -> QuerySet[Attempt]:
    """The attempts table of the manage area (newest first), optionally for one partner / result."""
    qs = Attempt.objects.filter(tenant=tenant, asset=asset).select_related("user", "partner").order_by("-started_at", "-id")
    if partner_id:
        qs = qs.filter(partner_id=partner_id)
    if result == "passed":
        qs = qs.filter(passed=True)
    elif result == "failed":
        qs = qs.filter(passed=False)
    elif result == "open":
        qs = qs.filter(status=AttemptStatus.OPEN)
    return qs


def attempt_summary(*, tenant: Tenant, asset: Asset) -> dict[str, int]:
    return Attempt.objects.filter(tenant=tenant, asset=asset).aggregate(
        total=Count("id"),
        graded=Count("id", filter=Q(status=AttemptStatus.GRADED)),
        passed=Count("id", filter=Q(passed=True)),
        users=Count("user", distinct=True),
    )
