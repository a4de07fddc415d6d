"""Forms of the partners context: invitations, SSO, partner settings, tiers, invitations, support activities."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import (
    Partner,
    PartnerStatus,
    PartnerTier,
    Role,
    SsoConnection,
    SsoProtocol,
    SupportActivityKind,
    Tenant,
    User,
)
from partners.selectors import channel_managers, partner_list, tier_list


class InvitationPasswordForm(forms.Form):
    """A new person accepting an invitation: their name and a password."""

    name = forms.CharField(label=_("Name"), max_length=150, required=False,
                           widget=forms.TextInput(attrs={"autocomplete": "name"}))
    password1 = forms.CharField(label=_("Password"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label=_("Password (again)"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, email: str, **kwargs):
        self.email = email
        super().__init__(*args, **kwargs)

    def clean(self):
        from django.contrib.auth import password_validation

        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords do not match."))
        elif p1:
            try:
                password_validation.validate_password(p1, User(email=self.email, name=data.get("name", "")))
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class SsoDiscoveryForm(forms.Form):
    email = forms.EmailField(label=_("Work email address"),
                             widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))


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


class MfaPolicyForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["mfa_required_channel_managers", "mfa_required_partner_users"]


class SsoConnectionForm(forms.ModelForm):
    client_secret = forms.CharField(
        label=_("Client secret"), required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Stored encrypted. Leave empty to keep the current secret."),
    )
    role_mapping = forms.JSONField(
        label=_("Role mapping"), required=False, initial=list,
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
        help_text=_('A list of rules, first match wins, e.g. [{"attribute": "groups", "value": "prm-admins", '
                    '"role": "tenant_admin"}, {"domain": "partner.example", "role": "partner_user", "partner": 12}].'),
    )

    default_partner = forms.ModelChoiceField(
        label=_("Default partner"), queryset=Partner.objects.none(), required=False, empty_label="—",
        help_text=_("For the default role “partner user”."),
    )

    idp_metadata_file = forms.FileField(
        label=_("Upload IdP metadata (XML)"), required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".xml,application/xml,text/xml"}),
        help_text=_("Instead of pasting it. At most 1 MB."),
    )

    OIDC_FIELDS = ["issuer", "client_id", "client_secret", "client_secret_env"]
    SAML_FIELDS = ["idp_entity_id", "idp_metadata_url", "idp_metadata_xml", "idp_metadata_file", "idp_sso_url",
                   "idp_x509cert"]

    class Meta:
        model = SsoConnection
        fields = [
            "name", "is_active", "issuer", "client_id", "client_secret_env", "idp_entity_id", "idp_sso_url",
            "idp_x509cert", "idp_metadata_url", "idp_metadata_xml", "email_domains", "jit_enabled", "default_role",
            "default_partner", "role_mapping",
        ]
        widgets = {"idp_x509cert": forms.Textarea(attrs={"rows": 4, "class": "mono"}),
                   "idp_metadata_xml": forms.Textarea(attrs={"rows": 4, "class": "mono"})}

    def __init__(self, *args, tenant, protocol, **kwargs):
        super().__init__(*args, **kwargs)
        self.protocol = protocol
        drop = self.SAML_FIELDS if protocol == SsoProtocol.OIDC else self.OIDC_FIELDS
        for name in drop:
            self.fields.pop(name, None)
        self.order_fields(["name", "is_active", *(f for f in self.fields if f in self.OIDC_FIELDS + self.SAML_FIELDS)])
        self.fields["default_partner"].queryset = partner_list(tenant=tenant)
        self.fields["default_role"].choices = [("", "—"), *Role.choices]

    def clean_role_mapping(self):
        value = self.cleaned_data.get("role_mapping") or []
        if not isinstance(value, list):
            raise forms.ValidationError(_("Enter a list of rules."))
        return value

    def clean_idp_metadata_file(self):
        upload = self.cleaned_data.get("idp_metadata_file")
        if not upload:
            return None
        if upload.size > 1024 * 1024:
            raise forms.ValidationError(_("The metadata is larger than 1 MB."))
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(_("This is not SAML IdP metadata XML.")) from exc

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        secret = data.pop("client_secret", "") or ""
        uploaded = data.pop("idp_metadata_file", None)
        if uploaded:
            data["idp_metadata_xml"] = uploaded
        return {**data, "client_secret": secret}
