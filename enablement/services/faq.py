"""Writes around FAQ search: the synonym list, partner questions (support requests) and their answers."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from enablement.models import Asset, AssetKind, FaqQuestion, FaqQuestionStatus, FaqSynonym, split_synonyms
from enablement.search.analysis import analyse
from partners.models import Partner, Tenant, User

MAX_MESSAGE = 2000


def synonym_terms_clean(terms: str) -> str:
    words = split_synonyms(terms)
    if len(words) < 2:
        raise ValidationError({"terms": _("Give at least two words or phrases, separated by commas.")})
    if any(not analyse(w) for w in words):
        raise ValidationError({"terms": _("Each word must contain something searchable (not only particles or symbols).")})
    value = ", ".join(words)
    if len(value) > 500:
        raise ValidationError({"terms": _("The list is too long (500 characters at most).")})
    return value


@transaction.atomic
def faq_synonym_create(*, tenant: Tenant, terms: str, actor: User | None) -> FaqSynonym:
    return FaqSynonym.objects.create(tenant=tenant, terms=synonym_terms_clean(terms), created_by=actor)


@transaction.atomic
def faq_synonym_update(*, tenant: Tenant, synonym: FaqSynonym, terms: str, actor: User | None) -> FaqSynonym:
    if synonym.tenant_id != tenant.pk:
        raise ValidationError("Unknown synonym.")
    synonym.terms = synonym_terms_clean(terms)
    synonym.save(update_fields=["terms", "updated_at"])
    return synonym


@transaction.atomic
def faq_synonym_delete(*, tenant: Tenant, synonym: FaqSynonym, actor: User | None) -> None:
    if synonym.tenant_id != tenant.pk:
        raise ValidationError("Unknown synonym.")
    synonym.delete()


@transaction.atomic
def faq_question_create(
    *, tenant: Tenant, partner: Partner, user: User, query: str, message: str
) -> FaqQuestion:
    """A partner user sends the question behind a search to their channel manager."""
    message = (message or "").strip()[:MAX_MESSAGE]
    query = " ".join((query or "").split())[:300]
    if partner.tenant_id != tenant.pk:
        raise ValidationError("Unknown partner.")
    if not message and not query:
        raise ValidationError({"message": _("Write your question.")})
    return FaqQuestion.objects.create(
        tenant=tenant, partner=partner, user=user, query=query, message=message or query
    )


@transaction.atomic
def faq_question_link_answer(*, tenant: Tenant, question: FaqQuestion, asset: Asset, actor: User | None) -> FaqQuestion:
    """The FAQ created from a question answers it once it is published (see ``faq_questions_answered``)."""
    if question.tenant_id != tenant.pk or asset.tenant_id != tenant.pk or asset.kind != AssetKind.FAQ:
        raise ValidationError("Unknown question or FAQ.")
    question.answer = asset
    question.save(update_fields=["answer"])
    return question


def faq_questions_answered(*, tenant: Tenant, asset: Asset) -> int:
    """Called when an FAQ is published: the questions it answers become answered."""
    return FaqQuestion.objects.filter(tenant=tenant, answer=asset, status=FaqQuestionStatus.OPEN).update(
        status=FaqQuestionStatus.ANSWERED, answered_at=timezone.now()
    )
