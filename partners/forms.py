"""Forms of the partners context: login, partner settings, tiers, invitations, support activities."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import Partner, PartnerStatus, PartnerTier, Role, SupportActivityKind, User
from partners.selectors import channel_managers, partner_list, tier_list


class EmailAuthenticationForm(AuthenticationForm):
    """Login with email + password. The error never says whether the account exists."""

    username = forms.EmailField(
        label=_("Email address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    error_messages = {
        "invalid_login": _("The email address or password is incorrect."),
        "inactive": _("The email address or password is incorrect."),
    }


class SupportActivityForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=SupportActivityKind.choices)
    occurred_on = forms.DateField(
        label=_("Date"), initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"})
    )
    duration_minutes = forms.IntegerField(label=_("Duration (minutes)"), min_value=0, max_value=24 * 60, initial=60)
    participants = forms.CharField(
        label=_("Participants"), max_length=500, required=False, help_text=_("Names or roles, separated by commas.")
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class PartnerForm(forms.Form):
    name = forms.CharField(label=_("Company"), max_length=200)
    name_kana = forms.CharField(
        label=_("Reading (furigana)"), max_length=200, required=False,
        help_text=_("In hiragana. Suggested from the company name when left empty; Japanese lists are sorted by it."),
    )
    external_id = forms.CharField(label=_("External id"), max_length=100, required=False)
    tier = forms.ModelChoiceField(empty_label="—", label=_("Tier"), queryset=PartnerTier.objects.none(), required=False)
    segment = forms.CharField(label=_("Segment"), max_length=100, required=False)
    region = forms.CharField(label=_("Region"), max_length=100, required=False)
    status = forms.ChoiceField(label=_("Status"), choices=PartnerStatus.choices, initial=PartnerStatus.ONBOARDING)
    manager = forms.ModelChoiceField(empty_label="—", label=_("Channel manager"), queryset=User.objects.none(), required=False)
    joined_on = forms.DateField(
        label=_("Joined"), initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = tier_list(tenant=tenant)
        self.fields["manager"].queryset = channel_managers(tenant=tenant).distinct()


class TierForm(forms.Form):
    name = forms.CharField(label=_("Tier name"), max_length=100)
    rank = forms.IntegerField(label=_("Rank"), min_value=0, max_value=100, help_text=_("1 is the highest tier."))


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    name = forms.CharField(label=_("Name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.PARTNER_USER)
    partner = forms.ModelChoiceField(empty_label="—",
        label=_("Partner"), queryset=Partner.objects.none(), required=False,
        help_text=_("Required for partner users."),
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = partner_list(tenant=tenant)

    def clean(self):
        data = super().clean()
        if data.get("role") == Role.PARTNER_USER and not data.get("partner"):
            self.add_error("partner", _("Choose the partner this user works for."))
        return data
