"""The one adapter from a service's ValidationError to what the caller shows.

Services raise django.core.exceptions.ValidationError, keyed by field where they can. A form view shows
it on the form (`add_to_form`); an API view answers 400 with DRF's error body (`as_api_error`). Errors
for fields the form or serializer does not have, and non-field errors, become non-field errors.
"""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.settings import api_settings


def add_to_form(form, exc: DjangoValidationError) -> None:
    """Each field's errors on that field of ``form``; the rest on the form itself."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def as_api_error(exc: DjangoValidationError) -> ApiValidationError:
    """``raise as_api_error(exc) from exc``: a 400 with ``{field: [messages]}``, non-field errors under
    DRF's ``non_field_errors`` key."""
    if not hasattr(exc, "error_dict"):
        return ApiValidationError({api_settings.NON_FIELD_ERRORS_KEY: exc.messages})
    detail = {
        api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field: messages
        for field, messages in exc.message_dict.items()
    }
    return ApiValidationError(detail)
