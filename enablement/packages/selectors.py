"""Reads of packaged courses: a training's current package, its versions and the learners' attempts."""

from __future__ import annotations

from django.db.models import QuerySet

from enablement.models import Asset
from enablement.packages.models import Attempt, Package
from partners.models import Tenant


def current_package(*, tenant: Tenant, asset: Asset) -> Package | None:
    """The package learners launch: the highest version of the training's uploads."""
    return Package.objects.filter(tenant=tenant, asset=asset).order_by("-version").first()


def package_versions(*, tenant: Tenant, asset: Asset) -> QuerySet[Package]:
    return (
        Package.objects.filter(tenant=tenant, asset=asset)
        .select_related("uploaded_by")
        .defer("files")
        .order_by("-version")
    )


def package_attempts(*, tenant: Tenant, asset: Asset) -> QuerySet[Attempt]:
    """Every learner's attempt on any version of the training, newest activity first."""
    return (
        Attempt.objects.filter(tenant=tenant, package__asset=asset)
        .select_related("user", "partner", "package")
        .defer("cmi", "suspend_data", "package__files")
        .order_by("-last_seen_at", "-id")
    )
