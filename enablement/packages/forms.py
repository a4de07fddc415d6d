from django import forms
from django.utils.translation import gettext_lazy as _


class PackageUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Course package (.zip)"),
        help_text=_("A SCORM 1.2, SCORM 2004 (3rd or 4th edition) or cmi5 package exported from your authoring tool."),
    )
