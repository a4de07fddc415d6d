"""Manage-area forms of assessments (input checks only; the services validate again and write)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from enablement.assessments.models import AssessmentSettings, Question, QuestionKind, ShortMatch
from enablement.assessments.services import MAX_CHOICES
from partners.models import Partner
from partners.reading import partner_ordering

CHOICE_ROWS = 6


class SettingsForm(forms.ModelForm):
    class Meta:
        model = AssessmentSettings
        fields = ["pass_mark", "attempt_limit", "time_limit_minutes", "draw_count", "shuffle"]


class QuestionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type"), choices=QuestionKind.choices)
    text = forms.CharField(label=_("Question"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    all_or_nothing = forms.BooleanField(
        label=_("All or nothing"), required=False,
        help_text=_("Multiple choice: full marks only for exactly the correct set. Otherwise each correct pick "
                    "adds and each wrong pick subtracts 1 ÷ (number of correct choices), never below 0."),
    )
    correct_true = forms.TypedChoiceField(
        label=_("True / false: the statement is"), required=False, empty_value=None,
        choices=[("", "—"), ("true", _("True")), ("false", _("False"))],
        coerce=lambda v: {"true": True, "false": False}.get(v),
    )
    short_match = forms.ChoiceField(label=_("Short answer: check"), choices=ShortMatch.choices, initial=ShortMatch.EXACT)
    accepted_answers = forms.CharField(
        label=_("Accepted answers"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line. Case, full-width/half-width characters and spacing are ignored."),
    )
    pattern = forms.CharField(
        label=_("Pattern"), required=False, max_length=200,
        help_text=_("A regular expression the whole answer must match, e.g. [0-9]{3}-[0-9]{4}. No back-references, "
                    "look-arounds or nested repetition."),
    )
    explanation = forms.CharField(label=_("Explanation"), required=False, max_length=2000,
                                  widget=forms.Textarea(attrs={"rows": 2}),
                                  help_text=_("Shown with the correct answer once it may be revealed."))

    def __init__(self, *args, question: Question | None = None, **kwargs):
        if question is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(question)
        super().__init__(*args, **kwargs)
        for i in range(1, CHOICE_ROWS + 1):
            self.fields[f"choice_{i}"] = forms.CharField(label=_("Choice %(n)s") % {"n": i}, required=False, max_length=500)
            self.fields[f"correct_{i}"] = forms.BooleanField(label=_("Correct"), required=False)

    @staticmethod
    def initial_for(question: Question) -> dict:
        initial = {
            "kind": question.kind, "text": question.text, "all_or_nothing": question.all_or_nothing,
            "correct_true": {True: "true", False: "false"}.get(question.correct_true, ""),
            "short_match": question.short_match, "accepted_answers": question.accepted_answers,
            "pattern": question.pattern, "explanation": question.explanation,
        }
        for i, choice in enumerate(question.choices.all()[:CHOICE_ROWS], start=1):
            initial[f"choice_{i}"] = choice.text
            initial[f"correct_{i}"] = choice.is_correct
        return initial

    def choice_rows(self):
        return [(self[f"choice_{i}"], self[f"correct_{i}"]) for i in range(1, CHOICE_ROWS + 1)]

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        choices = [(d.get(f"choice_{i}") or "", bool(d.get(f"correct_{i}"))) for i in range(1, CHOICE_ROWS + 1)]
        return {
            "kind": d["kind"], "text": d["text"], "choices": choices[:MAX_CHOICES],
            "all_or_nothing": d.get("all_or_nothing", False), "correct_true": d.get("correct_true"),
            "short_match": d.get("short_match") or ShortMatch.EXACT, "accepted_answers": d.get("accepted_answers", ""),
            "pattern": d.get("pattern", ""), "explanation": d.get("explanation", ""),
        }


class AttemptFilterForm(forms.Form):
    partner = forms.ModelChoiceField(label=_("Partner"), queryset=Partner.objects.none(), required=False, empty_label=_("All partners"))
    result = forms.ChoiceField(
        label=_("Result"), required=False,
        choices=[("", _("All")), ("passed", pgettext_lazy("assessment", "Passed")),
                 ("failed", pgettext_lazy("assessment", "Failed")), ("open", pgettext_lazy("attempt", "In progress"))],
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = Partner.objects.filter(tenant=tenant).order_by(*partner_ordering())
