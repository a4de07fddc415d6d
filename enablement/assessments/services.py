"""Writes of assessments: settings and question bank (manage area), attempts (portal).

Attempts are created and graded here only. Each start logs ``assessment.attempted`` and each
grading ``assessment.passed`` / ``assessment.failed`` with the scaled score in ``extra.score``,
through ``enablement.services.log.activity_record`` (event ids derived from the attempt, so a
repeated write stores nothing twice).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from enablement.assessments import grading
from enablement.assessments.models import (
    AssessmentSettings,
    Attempt,
    AttemptStatus,
    Choice,
    Question,
    QuestionKind,
    ShortMatch,
)
from enablement.models import Asset, AssetKind, EventSource, Verb
from enablement.services.log import activity_record
from partners.audit import audit_record
from partners.models import Partner, Tenant, User

# A submission arriving this long after the deadline is still graded normally (network, clicks at 0:00).
GRACE = dt.timedelta(seconds=30)
MAX_CHOICES = 8
SETTING_FIELDS = ("pass_mark", "attempt_limit", "time_limit_minutes", "draw_count", "shuffle")


def clock() -> dt.datetime:
    """The server's clock for attempts (tests replace it to move time without sleeping)."""
    return timezone.now()


def _check(tenant: Tenant, asset: Asset) -> None:
    if asset.tenant_id != tenant.pk or asset.kind != AssetKind.ASSESSMENT:
        raise ValidationError(_("Unknown assessment."))


def settings_for(*, tenant: Tenant, asset: Asset) -> AssessmentSettings:
    """The stored settings, or the defaults (unsaved) for an assessment not configured yet."""
    found = AssessmentSettings.objects.filter(tenant=tenant, asset=asset).first()
    return found or AssessmentSettings(tenant=tenant, asset=asset)


# --- manage: settings and bank -------------------------------------------------------------------


@transaction.atomic
def assessment_settings_update(*, tenant: Tenant, actor: User | None, asset: Asset, **values: Any) -> AssessmentSettings:
    _check(tenant, asset)
    current = settings_for(tenant=tenant, asset=asset)
    before = {f: getattr(current, f) for f in SETTING_FIELDS} if current.pk else {}
    for name in SETTING_FIELDS:
        if name in values:
            setattr(current, name, values[name])
    current.full_clean(exclude=["tenant", "asset"])
    current.save()
    audit_record(tenant=tenant, actor=actor, action="assessment.settings_updated", target=asset,
                 before=before, after={f: getattr(current, f) for f in SETTING_FIELDS})
    return current


def _validate_question(*, kind: str, choices: list[tuple[str, bool]], correct_true, short_match: str,
                       accepted_answers: str, pattern: str) -> None:
    errors: dict[str, str] = {}
    if kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
        correct = sum(1 for _t, ok in choices if ok)
        if len(choices) < 2:
            errors["choices"] = _("Give at least two choices.")
        elif len(choices) > MAX_CHOICES:
            errors["choices"] = _("At most %(n)s choices.") % {"n": MAX_CHOICES}
        elif kind == QuestionKind.SINGLE and correct != 1:
            errors["choices"] = _("Mark exactly one choice as correct.")
        elif kind == QuestionKind.MULTIPLE and correct < 1:
            errors["choices"] = _("Mark at least one choice as correct.")
    elif kind == QuestionKind.TRUE_FALSE:
        if correct_true is None:
            errors["correct_true"] = _("Say whether the statement is true or false.")
    elif kind == QuestionKind.SHORT:
        if short_match == ShortMatch.PATTERN:
            problem = grading.pattern_problem(pattern)
            if problem:
                errors["pattern"] = _("This pattern cannot be used: %(problem)s.") % {"problem": problem}
        elif not [a for a in accepted_answers.splitlines() if a.strip()]:
            errors["accepted_answers"] = _("Give at least one accepted answer.")
    else:
        errors["kind"] = _("Unknown question type.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def question_save(
    *,
    tenant: Tenant,
    actor: User | None,
    asset: Asset,
    question: Question | None = None,
    kind: str,
    text: str,
    choices: list[tuple[str, bool]] | None = None,
    all_or_nothing: bool = False,
    correct_true: bool | None = None,
    short_match: str = ShortMatch.EXACT,
    accepted_answers: str = "",
    pattern: str = "",
    explanation: str = "",
) -> Question:
    """Create or replace a question of the bank (its choices are replaced as a whole)."""
    _check(tenant, asset)
    if question is not None and (question.tenant_id != tenant.pk or question.asset_id != asset.pk):
        raise ValidationError(_("Unknown question."))
    choices = [(t.strip(), bool(ok)) for t, ok in (choices or []) if t and t.strip()]
    if not text.strip():
        raise ValidationError({"text": _("Write the question.")})
    _validate_question(kind=kind, choices=choices, correct_true=correct_true, short_match=short_match,
                       accepted_answers=accepted_answers, pattern=pattern)
    created = question is None
    if created:
        last = Question.objects.filter(tenant=tenant, asset=asset).order_by("-position").values_list("position", flat=True).first()
        question = Question(tenant=tenant, asset=asset, position=(last or 0) + 1)
    question.kind = kind
    question.text = text.strip()
    question.all_or_nothing = kind == QuestionKind.MULTIPLE and all_or_nothing
    question.correct_true = correct_true if kind == QuestionKind.TRUE_FALSE else None
    question.short_match = short_match if kind == QuestionKind.SHORT else ShortMatch.EXACT
    question.accepted_answers = accepted_answers.strip() if kind == QuestionKind.SHORT and short_match == ShortMatch.EXACT else ""
    question.pattern = pattern if kind == QuestionKind.SHORT and short_match == ShortMatch.PATTERN else ""
    question.explanation = explanation.strip()
    question.save()
    Choice.objects.filter(tenant=tenant, question=question).delete()
    if kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
        Choice.objects.bulk_create(
            [Choice(tenant=tenant, question=question, text=t[:500], is_correct=ok, position=i) for i, (t, ok) in enumerate(choices)]
        )
    audit_record(tenant=tenant, actor=actor, action="assessment.question_created" if created else "assessment.question_updated",
                 target=asset, after={"question": question.pk, "kind": kind})
    return question


@transaction.atomic
def question_delete(*, tenant: Tenant, actor: User | None, question: Question) -> None:
    if question.tenant_id != tenant.pk:
        raise ValidationError(_("Unknown question."))
    asset = question.asset
    audit_record(tenant=tenant, actor=actor, action="assessment.question_deleted", target=asset,
                 before={"question": question.pk, "text": question.text[:80]})
    question.delete()


# --- portal: attempts ----------------------------------------------------------------------------


def _log(attempt: Attempt, *, verb: str, occurred_at: dt.datetime, suffix: str, extra: dict) -> None:
    activity_record(
        tenant=attempt.tenant,
        partner=attempt.partner,
        user=attempt.user,
        asset=attempt.asset,
        verb=verb,
        occurred_at=occurred_at,
        source=EventSource.PORTAL,
        event_id=f"assessment-attempt-{attempt.pk}-{suffix}",
        extra={"attempt": attempt.number, **extra},
    )


def grade_answers(attempt: Attempt, answers: dict[str, Any], *, timed_out: bool) -> tuple[float, dict]:
    """Score each drawn question from the bank as it is now (a question deleted since is left out)."""
    questions = {
        q.pk: q
        for q in Question.objects.filter(tenant=attempt.tenant_id, asset_id=attempt.asset_id, pk__in=attempt.question_ids)
        .prefetch_related("choices")
    }
    results: dict[str, dict] = {}
    for qid in attempt.question_ids:
        q = questions.get(qid)
        if q is None:
            continue
        raw = answers.get(str(qid))
        if q.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
            allowed = {c.pk for c in q.choices.all()}
            picked = sorted({int(v) for v in (raw or []) if str(v).isdigit() and int(v) in allowed})
            given: Any = picked
            score = grading.score_choices(
                {c.pk for c in q.choices.all() if c.is_correct}, picked,
                multiple=q.kind == QuestionKind.MULTIPLE, all_or_nothing=q.all_or_nothing,
            )
        elif q.kind == QuestionKind.TRUE_FALSE:
            value = (raw or [""])[0] if isinstance(raw, list) else raw
            given = {"true": True, "false": False}.get(str(value))
            score = grading.score_true_false(q.correct_true, given)
        else:
            value = (raw or [""])[0] if isinstance(raw, list) else (raw or "")
            given = str(value)[: grading.MAX_ANSWER]
            score = grading.score_short(given, accepted=q.accepted_list, pattern=q.pattern)
        if timed_out:
            score = 0.0
        results[str(qid)] = {"score": round(score, 4), "answer": given}
    return grading.attempt_score(r["score"] for r in results.values()), results


def _finish(attempt: Attempt, *, answers: dict[str, Any], now: dt.datetime, timed_out: bool) -> Attempt:
    """Grade an open attempt once: the conditional UPDATE lets exactly one concurrent caller win."""
    score, results = grade_answers(attempt, answers, timed_out=timed_out)
    passed = not timed_out and grading.passes(score, attempt.pass_mark)
    submitted_at = min(now, attempt.deadline + GRACE) if (timed_out and attempt.deadline) else now
    won = Attempt.objects.filter(tenant=attempt.tenant_id, pk=attempt.pk, status=AttemptStatus.OPEN).update(
        status=AttemptStatus.GRADED, submitted_at=submitted_at, score=score, passed=passed,
        timed_out=timed_out, results=results,
    )
    attempt.refresh_from_db()
    if won:
        _log(attempt, verb=Verb.ASSESSMENT_PASSED if passed else Verb.ASSESSMENT_FAILED, occurred_at=submitted_at,
             suffix="graded", extra={"score": score, "timed_out": timed_out})
    return attempt


def _expired(attempt: Attempt, now: dt.datetime) -> bool:
    return attempt.deadline is not None and now > attempt.deadline + GRACE


@transaction.atomic
def attempts_close_expired(*, tenant: Tenant, user: User, asset: Asset) -> int:
    """Open attempts past their deadline (+ grace) are graded as timed out (score 0, failed)."""
    now = clock()
    closed = 0
    for attempt in Attempt.objects.filter(tenant=tenant, user=user, asset=asset, status=AttemptStatus.OPEN,
                                          deadline__isnull=False):
        if _expired(attempt, now):
            _finish(attempt, answers={}, now=now, timed_out=True)
            closed += 1
    return closed


@transaction.atomic
def attempt_start(*, tenant: Tenant, user: User, partner: Partner, asset: Asset, rng: random.Random | None = None) -> Attempt:
    """The user's open attempt (resumed), or a new one drawn now. Refused when no attempt is left,
    when the user has passed already, or when the bank is empty."""
    _check(tenant, asset)
    if partner.tenant_id != tenant.pk:
        raise ValidationError(_("Unknown partner."))
    attempts_close_expired(tenant=tenant, user=user, asset=asset)
    open_attempt = Attempt.objects.filter(tenant=tenant, user=user, asset=asset, status=AttemptStatus.OPEN).first()
    if open_attempt is not None:
        return open_attempt
    conf = settings_for(tenant=tenant, asset=asset)
    done = Attempt.objects.filter(tenant=tenant, user=user, asset=asset)
    if done.filter(passed=True).exists():
        raise ValidationError(_("You have passed this assessment already."))
    used = done.count()
    if conf.attempt_limit and used >= conf.attempt_limit:
        raise ValidationError(_("You have no attempts left."))
    bank = list(Question.objects.filter(tenant=tenant, asset=asset).order_by("position", "id").values_list("pk", flat=True))
    if not bank:
        raise ValidationError(_("This assessment has no questions yet."))
    rng = rng or random.SystemRandom()
    drawn = bank
    if conf.draw_count and conf.draw_count < len(bank):
        drawn = rng.sample(bank, conf.draw_count)
        if not conf.shuffle:
            drawn.sort(key=bank.index)
    elif conf.shuffle:
        drawn = rng.sample(bank, len(bank))
    choice_order: dict[str, list[int]] = {}
    for qid, cid in Choice.objects.filter(tenant=tenant, question_id__in=drawn).order_by("position", "id").values_list("question_id", "pk"):
        choice_order.setdefault(str(qid), []).append(cid)
    if conf.shuffle:
        for ids in choice_order.values():
            rng.shuffle(ids)
    now = clock()
    attempt = Attempt(
        tenant=tenant, asset=asset, user=user, partner=partner, number=used + 1, started_at=now,
        deadline=now + dt.timedelta(minutes=conf.time_limit_minutes) if conf.time_limit_minutes else None,
        question_ids=drawn, choice_order=choice_order, pass_mark=conf.pass_mark,
    )
    try:
        with transaction.atomic():
            attempt.save(force_insert=True)
    except IntegrityError:  # a concurrent start took this slot: that attempt is the one
        existing = Attempt.objects.filter(tenant=tenant, user=user, asset=asset, number=used + 1).first()
        if existing is None:
            raise
        return existing
    _log(attempt, verb=Verb.ASSESSMENT_ATTEMPTED, occurred_at=now, suffix="start", extra={})
    return attempt


@transaction.atomic
def attempt_submit(*, tenant: Tenant, user: User, attempt: Attempt, answers: dict[str, Any]) -> Attempt:
    """Grade the user's open attempt. Already graded: returned unchanged. Past the deadline
    (+ ``GRACE``): graded as timed out, the answers ignored."""
    if attempt.tenant_id != tenant.pk or attempt.user_id != user.pk:
        raise ValidationError(_("Unknown attempt."))
    locked = Attempt.objects.select_for_update().get(tenant=tenant, pk=attempt.pk)
    if locked.status == AttemptStatus.GRADED:
        return locked
    now = clock()
    return _finish(locked, answers=answers, now=now, timed_out=_expired(locked, now))
