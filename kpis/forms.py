"""Forms of the manage area's KPI settings: a definition and a dated target. Every choice (tier,
segment, partner) is limited to the tenant."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kpis.models import KpiDefinition
from partners.models import Partner, PartnerTier


def _segments(tenant, keep: str = "") -> list[tuple[str, str]]:
    values = set(
        Partner.objects.filter(tenant=tenant).exclude(segment="").order_by().values_list("segment", flat=True).distinct()
    )
    if keep:
        values.add(keep)  # a definition filtered on a segment nobody is in any more keeps its value
    return [("", "—"), *((s, s) for s in sorted(values))]


class KpiDefinitionForm(forms.ModelForm):
    """The definition itself; the model's ``clean`` checks a rate's target is 0–100."""

    # declared here: a model field's default choices would query tiers without a tenant scope at import
    tier = forms.ModelChoiceField(label=_("tier filter"), queryset=PartnerTier.objects.none(), required=False)
    segment = forms.ChoiceField(label=_("segment filter"), required=False)

    class Meta:
        model = KpiDefinition
        fields = ["name_ja", "name_en", "metric", "period", "tier", "segment", "target", "direction", "warning_band"]

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.tenant = tenant
        self.fields["tier"].queryset = PartnerTier.objects.filter(tenant=tenant).order_by("rank", "name")
        self.fields["tier"].empty_label = _("All tiers")
        self.fields["segment"].choices = [("", _("All segments")), *_segments(tenant, self.instance.segment)[1:]]
        self.fields["target"].help_text = _("Rates are percentages (0–100). Until a dated target applies, this one does.")
        for name in ("target", "warning_band"):
            self.fields[name].widget.attrs.update({"inputmode": "decimal"})


class KpiTargetForm(forms.Form):
    """A dated target: for everyone (no tier, segment or partner), or one tier, segment or partner."""

    tier = forms.ModelChoiceField(label=_("Tier"), queryset=PartnerTier.objects.none(), required=False, empty_label="—")
    segment = forms.ChoiceField(label=_("Segment"), required=False)
    partner = forms.ModelChoiceField(
        label=_("Partner (override)"), queryset=Partner.objects.none(), required=False, empty_label="—",
    )
    effective_from = forms.DateField(
        label=_("Effective from"), initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("A period is judged by the target in force on its first day."),
    )
    target = forms.DecimalField(label=pgettext_lazy("dashboard", "Target"), min_value=0, max_digits=12, decimal_places=2,
                                widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = PartnerTier.objects.filter(tenant=tenant).order_by("rank", "name")
        self.fields["segment"].choices = _segments(tenant)
        self.fields["partner"].queryset = Partner.objects.filter(tenant=tenant).order_by("name")

    def clean(self):
        data = super().clean()
        if sum(bool(data.get(name)) for name in ("tier", "segment", "partner")) > 1:
            raise forms.ValidationError(_("Choose one of tier, segment or partner (or none: everyone)."))
        return data

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {"effective_from": d["effective_from"], "target": d["target"], "tier": d.get("tier"),
                "segment": d.get("segment") or "", "partner": d.get("partner")}
