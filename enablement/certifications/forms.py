"""Forms of the certifications pages (input checks only; the services write)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from enablement.certifications.models import CertificateStatus, Certification
from enablement.completion import COMPLETION_VERBS
from enablement.models import Asset, AssetStatus
from partners.models import PartnerTier


class AssetChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Asset) -> str:
        return f"{obj.title} ({obj.get_kind_display()})"


class CertificationForm(forms.ModelForm):
    required_assets = AssetChoiceField(
        label=_("Required assets"), queryset=Asset.objects.none(), widget=forms.CheckboxSelectMultiple,
        help_text=_("Every asset with a completion rule can be required; a person must complete all of them."),
    )

    class Meta:
        model = Certification
        fields = ["name", "description", "validity_months", "renewal_window_days", "is_active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["required_assets"].queryset = Asset.objects.filter(
            tenant=tenant, kind__in=list(COMPLETION_VERBS)
        ).exclude(status=AssetStatus.ARCHIVED).order_by("kind", "title")
        if self.instance.pk:
            self.fields["required_assets"].initial = list(
                self.instance.requirements.values_list("asset_id", flat=True)
            )

    def validate_unique(self):  # the service checks the name within the tenant
        pass


class TierRequirementForm(forms.Form):
    tier = forms.ModelChoiceField(label=_("Tier"), queryset=PartnerTier.objects.none())
    required_people = forms.IntegerField(
        label=_("Certified people required per partner"), min_value=0, max_value=1000,
        help_text=_("0 removes the requirement."),
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = PartnerTier.objects.filter(tenant=tenant).order_by("rank", "name")


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class HolderFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False,
        choices=[("", _("All")), *CertificateStatus.choices],
    )
