"""The manage sidebar and the portal's sub-navigation, each built from one list.

`navigation` is a context processor: templates get ``manage_nav`` (groups of items) and ``portal_nav``
(items), computed only when a template uses them. An item is current when the request's path is its
URL or below it (the area's home only when it is the path itself); the deepest such item wins, so at
most one item carries aria-current="page".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Entry:
    url_name: str
    label: str
    exact: bool = False  # current only on the URL itself (the area's home)
    show: Callable[[object], bool] = lambda request: True


@dataclass(frozen=True)
class Item:
    label: str
    url: str
    current: bool = False


@dataclass(frozen=True)
class Group:
    label: str
    items: list[Item]


def _is_admin(request) -> bool:
    membership = getattr(request, "membership", None)
    return bool(membership and membership.is_admin)


MANAGE_NAV: list[tuple[str, list[Entry]]] = [
    (_("Insights"), [
        Entry("manage-overview", _("Overview"), exact=True),
        Entry("manage-partners", _("Partners")),
        Entry("manage-content", _("Content")),
        Entry("manage-faq", _("FAQ")),
        Entry("manage-teams", _("Teams")),
        Entry("manage-patterns", _("Success patterns")),
        Entry("manage-health", _("Measurement health")),
    ]),
    (_("Enablement"), [
        Entry("manage-assets", _("Assets")),
        Entry("manage-assignments", _("Assignments")),
        Entry("manage-certifications", _("Certifications")),
        Entry("manage-deals", _("Deals")),
    ]),
    (_("Settings"), [
        Entry("manage-partner-admin", _("Partners & users")),
        Entry("manage-kpi-definitions", _("KPI definitions & targets")),
        Entry("manage-members", _("Members"), show=_is_admin),
        Entry("manage-security", _("Security"), show=_is_admin),
        Entry("manage-api-keys", _("API keys"), show=_is_admin),
        Entry("manage-audit-log", _("Audit log"), show=_is_admin),
        # admin access comes from the tenant-admin membership, not is_staff (partners.tenancy.admin)
        Entry("admin:index", _("Admin site (all records)"), show=_is_admin),
    ]),
]

PORTAL_NAV: list[Entry] = [
    Entry("portal-home", _("Home"), exact=True),
    Entry("portal-catalog", _("Catalog")),
    Entry("portal-faq", _("FAQ")),
    Entry("portal-certificates", _("My certificates")),
    Entry("portal-deals", _("Deals")),
]


def _items(request, entries: list[Entry]) -> list[tuple[Entry, str]]:
    tenant = getattr(request, "tenant", None)
    found = []
    for entry in entries:
        if not entry.show(request):
            continue
        try:
            kwargs = {} if entry.url_name.startswith("admin:") else {"tenant_slug": tenant.slug}
            found.append((entry, reverse(entry.url_name, kwargs=kwargs)))
        except NoReverseMatch:
            continue
    return found


def _current_url(path: str, found: list[tuple[Entry, str]]) -> str | None:
    matches = [url for entry, url in found if path == url or (not entry.exact and path.startswith(url))]
    return max(matches, key=len, default=None)


def manage_nav(request) -> list[Group]:
    if getattr(request, "tenant", None) is None:
        return []
    groups = [(label, _items(request, entries)) for label, entries in MANAGE_NAV]
    current = _current_url(request.path, [pair for _label, found in groups for pair in found])
    return [
        Group(label, [Item(e.label, url, url == current) for e, url in found]) for label, found in groups if found
    ]


def portal_nav(request) -> list[Item]:
    if getattr(request, "tenant", None) is None:
        return []
    found = _items(request, PORTAL_NAV)
    current = _current_url(request.path, found)
    return [Item(e.label, url, url == current) for e, url in found]


def navigation(request):
    return {"manage_nav": lambda: manage_nav(request), "portal_nav": lambda: portal_nav(request)}
