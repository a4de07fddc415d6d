from django_scopes import scope

from enablement.models import Asset, AssetStatus
from enablement.packages import demo
from enablement.packages.models import Package, Standard


def test_demo_adds_one_published_scorm2004_course_built_at_seed_time(tenant_a, admin_a):
    with scope(tenant=tenant_a.pk):
        assert demo.seed(tenant_a, log=lambda *_: None) is True
        assert demo.seed(tenant_a, log=lambda *_: None) is False  # idempotent
        asset = Asset.objects.get(tenant=tenant_a, external_id=demo.EXTERNAL_ID)
        package = Package.objects.get(tenant=tenant_a, asset=asset)
    assert asset.status == AssetStatus.PUBLISHED
    assert (package.standard, package.version, package.launch_path) == (Standard.SCORM2004, 1, "index.html")
    assert package.uploaded_by == admin_a.user
