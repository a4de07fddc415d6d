"""The one ValidationError adapter: services' errors on forms and in API 400s."""

from django import forms
from django.core.exceptions import ValidationError

from partners.errors import add_to_form, as_api_error


class NameForm(forms.Form):
    name = forms.CharField()


def bound_form():
    form = NameForm({"name": "x"})
    assert form.is_valid()
    return form


def test_field_errors_go_to_their_field_the_rest_to_the_form():
    form = bound_form()
    add_to_form(form, ValidationError({"name": "Taken.", "slug": "Unknown.", "__all__": "Nope."}))
    assert form.errors["name"] == ["Taken."]
    assert form.non_field_errors() == ["Unknown.", "Nope."]


def test_plain_errors_go_to_the_form():
    form = bound_form()
    add_to_form(form, ValidationError(["One.", "Two."]))
    assert form.non_field_errors() == ["One.", "Two."] and "name" not in form.errors


def test_api_error_body():
    assert as_api_error(ValidationError({"name": "Taken.", "__all__": "Nope."})).detail == {
        "name": ["Taken."], "non_field_errors": ["Nope."],
    }
    assert as_api_error(ValidationError("Nope.")).detail == {"non_field_errors": ["Nope."]}
