"""The grading rules (pure functions): partial multiple choice, short-answer normalisation, patterns."""

from __future__ import annotations

import time

import pytest

from enablement.assessments import grading as g


@pytest.mark.parametrize(
    ("picked", "expected"),
    [
        ({1, 2, 3}, 1.0),  # exactly the correct set
        ({1, 2}, 2 / 3),  # two of three correct, nothing wrong
        ({1, 2, 3, 4}, 2 / 3),  # all correct plus one wrong: (3 - 1) / 3
        ({1, 4}, 0.0),  # (1 - 1) / 3
        ({4, 5}, 0.0),  # never below zero
        ({1, 2, 3, 4, 5}, 1 / 3),  # ticking everything is not full marks
        (set(), 0.0),
    ],
)
def test_multiple_choice_partial_rule(picked, expected):
    assert g.score_choices({1, 2, 3}, picked, multiple=True, all_or_nothing=False) == pytest.approx(expected)


def test_multiple_choice_all_or_nothing():
    assert g.score_choices({1, 2}, {1, 2}, multiple=True, all_or_nothing=True) == 1.0
    assert g.score_choices({1, 2}, {1}, multiple=True, all_or_nothing=True) == 0.0
    assert g.score_choices({1, 2}, {1, 2, 3}, multiple=True, all_or_nothing=True) == 0.0


def test_single_choice_needs_exactly_the_right_one():
    assert g.score_choices({7}, {7}, multiple=False, all_or_nothing=False) == 1.0
    assert g.score_choices({7}, {7, 8}, multiple=False, all_or_nothing=False) == 0.0
    assert g.score_choices({7}, {8}, multiple=False, all_or_nothing=False) == 0.0


def test_true_false():
    assert g.score_true_false(True, True) == 1.0
    assert g.score_true_false(False, True) == 0.0
    assert g.score_true_false(True, None) == 0.0


@pytest.mark.parametrize(
    ("answer", "accepted"),
    [
        ("ＡＢＣ１２３", "abc123"),  # full-width letters and digits
        ("ﾛｰﾙ", "ロール"),  # half-width katakana
        ("  Role\u3000 Based  ", "role based"),  # ideographic space, runs of spaces, case
        ("Straße", "STRASSE"),  # case folding, not just lower()
    ],
)
def test_short_answer_exact_is_case_width_and_space_insensitive(answer, accepted):
    assert g.score_short(answer, accepted=[accepted]) == 1.0


def test_short_answer_exact_is_not_a_substring_match():
    assert g.score_short("abc1234", accepted=["abc123"]) == 0.0
    assert g.score_short("", accepted=["abc"]) == 0.0


def test_short_answer_pattern_matches_the_whole_normalised_answer():
    pattern = r"[0-9]{3}-[0-9]{4}"
    assert g.pattern_problem(pattern) is None
    assert g.score_short("１２３－４５６７", pattern=pattern) == 1.0  # full-width digits and hyphen after NFKC
    assert g.score_short("x123-4567", pattern=pattern) == 0.0  # fullmatch, not search
    assert g.score_short("TOKYO", pattern="tokyo|osaka") == 1.0  # case-insensitive


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)+$", r"(a|a)*b", r"(\w+\s?)*$", r"(a)\1", r"(?=a)a", "x" * 201, "a*" * 5 + "b", "(", ""],
)
def test_dangerous_or_broken_patterns_are_refused(pattern):
    assert g.pattern_problem(pattern) is not None


def test_a_refused_pattern_never_runs_and_answers_are_capped():
    started = time.perf_counter()
    assert g.score_short("a" * 5000 + "!", pattern=r"(a+)+$") == 0.0
    assert time.perf_counter() - started < 0.5
    assert len(g.normalise("あ" * 10_000)) == g.MAX_ANSWER


def test_attempt_score_and_pass_mark():
    assert g.attempt_score([1, 0.5, 0, 1]) == 0.625
    assert g.passes(0.7, 70) and not g.passes(0.6999, 70)
