"""Manage → API keys (tenant admins only): list, create (the key is shown once), revoke."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from partners.errors import add_to_form
from partners.models import ApiKey, ApiKeyScope
from partners.permissions import admin_required
from partners.services import api_key_create, api_key_revoke, api_key_trust_set
from partners.tenancy import get_for_tenant


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Key name"), max_length=100, help_text=gettext_lazy("e.g. the system that will use it: LMS, CRM."))
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Scopes"),
        choices=ApiKeyScope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiKeyScope.EVENTS_WRITE],
    )
    trusted_source = forms.BooleanField(
        label=gettext_lazy("Trusted source"),
        required=False,
        help_text=gettext_lazy(
            "Completions sent with this key count toward completion KPIs. Leave off for systems whose "
            "completions you cannot check: their events are kept and shown, but do not count."
        ),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def api_keys(request, tenant_slug: str):
    tenant = request.tenant
    form = ApiKeyForm(prefix="key")
    new_raw = None
    new_key = None
    notice = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            key = get_for_tenant(ApiKey, tenant=tenant, pk=request.POST.get("key_id"))
            api_key_revoke(tenant=tenant, key=key, actor=request.user)
            notice = _("The key “%(name)s” is revoked: requests with it now get 401.") % {"name": key.name}
        elif request.POST.get("action") in {"trust", "distrust"}:
            key = get_for_tenant(ApiKey, tenant=tenant, pk=request.POST.get("key_id"))
            trusted = request.POST["action"] == "trust"
            api_key_trust_set(tenant=tenant, key=key, trusted_source=trusted, actor=request.user)
            if trusted:
                notice = _("Completions sent with “%(name)s” from now on count.") % {"name": key.name}
            else:
                notice = _("Completions sent with “%(name)s” from now on are kept but do not count.") % {"name": key.name}
        else:
            form = ApiKeyForm(request.POST, prefix="key")
            if form.is_valid():
                try:
                    new_key, new_raw = api_key_create(
                        tenant=tenant,
                        name=form.cleaned_data["name"],
                        scopes=form.cleaned_data["scopes"],
                        trusted_source=form.cleaned_data["trusted_source"],
                        actor=request.user,
                    )
                except ValidationError as exc:
                    add_to_form(form, exc)
                else:
                    form = ApiKeyForm(prefix="key")
    keys = ApiKey.objects.filter(tenant=tenant).select_related("created_by").order_by("revoked_at", "-created_at")
    context = {
        "form": form,
        "keys": keys,
        "new_key": new_key,
        "new_raw": new_raw,
        "notice": notice,
        "scope_labels": dict(ApiKeyScope.choices),
        "api_base": request.build_absolute_uri("/api/"),
    }
    template = "partners/api_keys.html"
    if request.htmx and not request.htmx.boosted:
        template += "#panel"
    response = render(request, template, context)
    if new_raw:
        response["Cache-Control"] = "no-store"
    return response
