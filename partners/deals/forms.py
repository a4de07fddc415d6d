"""Forms of deal registration (portal), the manager's deal list and the CSV import."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.validators import MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.deals.models import DealStage
from partners.deals.normalize import registrable_domain
from partners.models import Partner
from partners.reading import partner_ordering

CURRENCIES = ("JPY", "USD", "EUR", "GBP", "CNY", "KRW", "TWD", "HKD", "SGD", "AUD", "CAD", "CHF", "INR", "THB", "NZD")
CURRENCY_CHOICES = [(c, c) for c in CURRENCIES]
IMPORT_MAX_BYTES = 1024 * 1024


class DealRegisterForm(forms.Form):
    customer = forms.CharField(label=_("Customer"), max_length=200)
    customer_domain = forms.CharField(
        label=_("Customer's web site or e-mail domain"), max_length=253, required=False,
        help_text=_("Optional, e.g. example.co.jp or someone@example.co.jp: helps find the same customer under another name."),
    )
    product = forms.CharField(label=_("Product"), max_length=200, required=False)
    amount = forms.DecimalField(
        label=_("Amount"), max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal(0))]
    )
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCY_CHOICES)
    expected_close_on = forms.DateField(
        label=_("Expected close date"), widget=forms.DateInput(attrs={"type": "date"}), required=True
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].initial = tenant.currency if tenant.currency in CURRENCIES else "JPY"

    def clean_customer_domain(self):
        value = self.cleaned_data["customer_domain"].strip()
        if value and not registrable_domain(value):
            raise forms.ValidationError(_("Enter a domain such as example.co.jp, a web address or an e-mail address."))
        return registrable_domain(value)

    def clean_customer(self):
        value = self.cleaned_data["customer"].strip()
        if not value:
            raise forms.ValidationError(_("Enter the customer's name."))
        return value

    def clean_expected_close_on(self):
        value = self.cleaned_data["expected_close_on"]
        today = timezone.localdate()
        if value < today:
            raise forms.ValidationError(_("The expected close date cannot be in the past."))
        if (value - today).days > 3 * 366:
            raise forms.ValidationError(_("The expected close date is more than three years away."))
        return value


class DealFilterForm(forms.Form):
    stage = forms.ChoiceField(label=_("Stage"), choices=[("", _("All stages")), *DealStage.choices], required=False)
    partner = forms.ModelChoiceField(label=_("Partner"), queryset=Partner.objects.none(), required=False,
                                     empty_label=_("All partners"))
    q = forms.CharField(label=_("Customer or product"), max_length=100, required=False)
    conflicts = forms.BooleanField(label=_("Only conflicts"), required=False)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = Partner.objects.filter(tenant=tenant).order_by(*partner_ordering())


class DealActionForm(forms.Form):
    ACTIONS = {
        "approve": DealStage.APPROVED,
        "reject": DealStage.REJECTED,
        "return": DealStage.RETURNED,
        "reopen": DealStage.REGISTERED,
        "win": DealStage.WON,
        "lose": DealStage.LOST,
    }
    # These need a reason and go through a confirmation page first.
    CONFIRMED = ("reject", "return")
    action = forms.ChoiceField(choices=[(k, k) for k in ACTIONS])
    closed_on = forms.DateField(required=False)
    reason = forms.CharField(
        label=_("Reason (the partner sees it)"), max_length=2000, required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("action") in self.CONFIRMED and data.get("confirmed") and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Enter the reason. The partner sees it."))
        return data

    @property
    def needs_confirmation(self) -> bool:
        return self.cleaned_data["action"] in self.CONFIRMED and not self.cleaned_data.get("confirmed")

    @property
    def stage(self) -> str:
        return self.ACTIONS[self.cleaned_data["action"]]


class DealImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file (UTF-8 or Shift_JIS)"))

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 1 MB. Split it into smaller files."))
        return f
