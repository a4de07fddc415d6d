"""Demo data of packaged courses: one published SCORM 2004 training per tenant, its zip written by
code (``samples``) and uploaded through the same service the manage page uses."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from enablement.models import Asset, AssetKind, AssetStatus
from enablement.packages import samples
from enablement.packages.services import package_upload
from partners.models import Membership, Role

EXTERNAL_ID = "trn-scorm-security-basics"
COURSE = {
    "ja": (
        "情報セキュリティ基礎(SCORM コース)",
        "パートナー向けの短い SCORM 2004 コースです。ページごとに位置が保存され、最後のページで完了します。",
        ["顧客情報は、業務に必要な人だけが必要な範囲で扱います。",
         "パスワードは使い回さず、多要素認証を有効にしてください。",
         "不審なメールを受け取ったら、開かずにベンダーの窓口へ連絡してください。完了を押すと記録されます。"],
    ),
    "en": (
        "Security Basics (SCORM course)",
        "A short SCORM 2004 course for partners. Your place is saved on every page; the last page completes it.",
        ["Customer data is handled only by the people who need it, and only as far as they need it.",
         "Never reuse passwords, and turn on multi-factor authentication.",
         "If an e-mail looks suspicious, do not open it: tell the vendor's contact. Press Finish to record it."],
    ),
}


def seed(tenant, *, log=print) -> bool:
    if Asset.objects.filter(tenant=tenant, external_id=EXTERNAL_ID).exists():
        return False
    lang = tenant.default_language if tenant.default_language in COURSE else "en"
    title, description, pages = COURSE[lang]
    membership = (
        Membership.objects.filter(tenant=tenant, role=Role.TENANT_ADMIN).select_related("user").order_by("id").first()
    )
    admin = membership.user if membership else None
    asset = Asset.objects.create(
        tenant=tenant, kind=AssetKind.TRAINING, title=title, description=description, language=lang,
        category="Security" if lang == "en" else "セキュリティ", status=AssetStatus.PUBLISHED, external_id=EXTERNAL_ID,
        created_by=admin, published_at=timezone.now(),
    )
    data = samples.scorm2004_package(title=title, pages=pages, lang=lang, diagnostics=False)
    package = package_upload(
        tenant=tenant, actor=admin, asset=asset, file=SimpleUploadedFile("security-basics-scorm2004.zip", data)
    )
    log(f"  {tenant.slug}: packaged course “{title}” ({package.get_standard_display()}, {package.file_count} files)")
    return True
