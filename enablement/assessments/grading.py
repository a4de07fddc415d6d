"""Grading rules, pure functions (the server is the only place answers are checked).

Per question a score in 0..1; an attempt's score is the mean over the questions it drew, and it
passes when ``score * 100 >= pass_mark``.

* single choice: 1 when the one correct choice is picked, else 0 (several picks: 0).
* multiple choice, partial (the default): ``max(0, (correct picked − wrong picked) / correct choices)``.
  Picking everything scores ``(c − w) / c``: a guess over all choices does not earn full marks.
  With ``all_or_nothing``: 1 for exactly the correct set, else 0.
* true / false: 1 when the answer equals the statement's truth.
* short answer, exact: the answer and each accepted answer are normalised (Unicode NFKC, so
  full-width ``ＡＢＣ１２３`` equals ``ABC123`` and half-width katakana equals full-width; case folded;
  spaces incl. the ideographic space collapsed and trimmed) and compared for equality.
* short answer, pattern: ``re.fullmatch`` of the pattern (case-insensitive) against the normalised
  answer. Patterns are checked when saved (``pattern_problem``): at most 200 characters, no
  back-references, look-arounds or nested/alternating repetition — the constructs that make a
  backtracking engine slow — and answers are cut to ``MAX_ANSWER`` characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

try:  # the standard library's regex parser (private name since 3.11)
    from re import _parser as sre_parse  # type: ignore[attr-defined]
    from re._constants import (  # type: ignore[attr-defined]
        ASSERT,
        ASSERT_NOT,
        BRANCH,
        GROUPREF,
        GROUPREF_EXISTS,
        MAX_REPEAT,
        MAXREPEAT,
        MIN_REPEAT,
        POSSESSIVE_REPEAT,
        SUBPATTERN,
    )
except ImportError:  # pragma: no cover - older layout
    import sre_parse  # type: ignore[no-redef]
    from sre_constants import (  # type: ignore[no-redef]
        ASSERT,
        ASSERT_NOT,
        BRANCH,
        GROUPREF,
        GROUPREF_EXISTS,
        MAX_REPEAT,
        MAXREPEAT,
        MIN_REPEAT,
        SUBPATTERN,
    )

    POSSESSIVE_REPEAT = MAX_REPEAT

MAX_PATTERN = 200
MAX_ANSWER = 200
MAX_UNBOUNDED_REPEATS = 4
REPEATS = (MAX_REPEAT, MIN_REPEAT, POSSESSIVE_REPEAT)


def normalise(text: str) -> str:
    """NFKC + case fold + whitespace collapsed (the ideographic space included) + trimmed."""
    text = unicodedata.normalize("NFKC", text or "")[: MAX_ANSWER * 2]
    return " ".join(text.casefold().split())[:MAX_ANSWER]


def _has_repeat_or_branch(items) -> bool:
    for op, av in items:
        if op in REPEATS or op == BRANCH:
            return True
        if op == SUBPATTERN and _has_repeat_or_branch(av[-1]):
            return True
    return False


def _walk(items, counts: dict[str, int]) -> str | None:
    for op, av in items:
        if op in (GROUPREF, GROUPREF_EXISTS):
            return "back-references are not allowed"
        if op in (ASSERT, ASSERT_NOT):
            return "look-ahead and look-behind are not allowed"
        if op in REPEATS:
            low, high, body = av
            if high == MAXREPEAT or high > 1:
                if _has_repeat_or_branch(body):
                    return "a repeated group may not contain another repetition or an alternative"
                if high == MAXREPEAT or high > 50:
                    counts["unbounded"] += 1
            problem = _walk(body, counts)
            if problem:
                return problem
        elif op == SUBPATTERN:
            problem = _walk(av[-1], counts)
            if problem:
                return problem
        elif op == BRANCH:
            for branch in av[1]:
                problem = _walk(branch, counts)
                if problem:
                    return problem
    return None


def pattern_problem(pattern: str) -> str | None:
    """Why a short-answer pattern is refused (English, for the form to translate), or None."""
    if not pattern:
        return "a pattern is required"
    if len(pattern) > MAX_PATTERN:
        return f"at most {MAX_PATTERN} characters"
    try:
        re.compile(pattern)
        parsed = sre_parse.parse(pattern)
    except (re.error, OverflowError, RecursionError):
        return "not a valid regular expression"
    counts = {"unbounded": 0}
    problem = _walk(list(parsed), counts)
    if problem:
        return problem
    if counts["unbounded"] > MAX_UNBOUNDED_REPEATS:
        return f"at most {MAX_UNBOUNDED_REPEATS} open-ended repetitions"
    return None


def score_choices(correct: set[int], picked: Iterable[int], *, multiple: bool, all_or_nothing: bool) -> float:
    picked = set(picked)
    if not correct:
        return 0.0
    if not multiple:
        return 1.0 if len(picked) == 1 and picked <= correct else 0.0
    if all_or_nothing:
        return 1.0 if picked == correct else 0.0
    right = len(picked & correct)
    wrong = len(picked - correct)
    return max(0.0, (right - wrong) / len(correct))


def score_true_false(correct: bool | None, answer: bool | None) -> float:
    return 1.0 if correct is not None and answer is not None and answer == correct else 0.0


def score_short(answer: str, *, accepted: Iterable[str] = (), pattern: str = "") -> float:
    given = normalise(answer)
    if not given:
        return 0.0
    if pattern:
        if pattern_problem(pattern) is not None:  # refused on save; never run an unchecked one
            return 0.0
        return 1.0 if re.fullmatch(pattern, given, flags=re.IGNORECASE) else 0.0
    return 1.0 if any(given == normalise(a) for a in accepted if a.strip()) else 0.0


def attempt_score(scores: Iterable[float]) -> float:
    values = list(scores)
    return round(sum(values) / len(values), 4) if values else 0.0


def passes(score: float, pass_mark: int) -> bool:
    return round(score * 100, 2) >= pass_mark
