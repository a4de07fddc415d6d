"""Site-wide template pieces: the sidebar and portal navigation, the pager, the dashboards' CSV link."""

import re

import pytest
from django.core.paginator import Paginator
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db


def url(name, tenant, **kw):
    return reverse(name, kwargs={"tenant_slug": tenant.slug, **kw})


def current_links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)" aria-current="page">', html)


def sidebar(html: str) -> str:
    return html[html.index('<nav class="sidebar"') : html.index("</nav>", html.index('<nav class="sidebar"'))]


@pytest.mark.parametrize(
    ("path_name", "kw", "current_name"),
    [
        ("manage-overview", {}, "manage-overview"),
        ("manage-partners", {}, "manage-partners"),
        ("manage-assets", {}, "manage-assets"),
        ("manage-asset-new", {}, "manage-assets"),
        ("manage-partner-admin", {}, "manage-partner-admin"),
        ("manage-deals-import", {}, "manage-deals"),
        ("manage-kpi-definition-new", {}, "manage-kpi-definitions"),
    ],
)
def test_sidebar_marks_exactly_the_current_item(client, login, admin_a, tenant_a, path_name, kw, current_name):
    login(admin_a)
    html = client.get(url(path_name, tenant_a, **kw)).content.decode()
    assert current_links(sidebar(html)) == [url(current_name, tenant_a)]


def test_sidebar_lists_every_area_once_and_hides_admin_items_from_managers(client, login, admin_a, manager_a, tenant_a):
    login(admin_a)
    nav = sidebar(client.get(url("manage-overview", tenant_a)).content.decode())
    hrefs = re.findall(r'<a href="([^"]+)"', nav)
    expected = [url(n, tenant_a) for n in (
        "manage-overview", "manage-partners", "manage-content", "manage-faq", "manage-teams", "manage-patterns",
        "manage-health", "manage-assets", "manage-assignments", "manage-certifications", "manage-deals", "manage-partner-admin", "manage-kpi-definitions", "manage-members",
        "manage-security", "manage-api-keys", "manage-audit-log")]
    assert hrefs == [*expected, reverse("admin:index")]  # a tenant admin (admin access by membership)
    assert nav.count('class="sidebar-heading"') == 3
    login(manager_a)
    nav = sidebar(client.get(url("manage-overview", tenant_a)).content.decode())
    assert url("manage-api-keys", tenant_a) not in nav and url("manage-deals", tenant_a) in nav
    assert url("manage-members", tenant_a) not in nav and url("manage-audit-log", tenant_a) not in nav
    assert reverse("admin:index") not in nav
    assert url("manage-security", tenant_a) not in nav


def test_portal_navigation(client, login, partner_user_a, tenant_a):
    login(partner_user_a)
    html = client.get(url("portal-catalog", tenant_a)).content.decode()
    nav = html[html.index('<nav class="subnav"') :]
    assert current_links(nav) == [url("portal-catalog", tenant_a)]
    home = client.get(url("portal-home", tenant_a)).content.decode()
    assert current_links(home[home.index('<nav class="subnav"') :]) == [url("portal-home", tenant_a)]


def render(source: str, **context) -> str:
    return Template(source).render(Context(context))


@translation.override("en")
def test_pager_plain_and_htmx():
    pages = Paginator(range(30), 10)
    html = render('{% include "_pagination.html" with page=page %}', page=pages.page(2))
    assert 'href="?page=1"' in html and 'href="?page=3"' in html and "hx-get" not in html
    assert 'rel="prev"' in html and 'rel="next"' in html and "2 / 3" not in html
    html = render(
        '{% include "_pagination.html" with page=page query=query url="/list/" target="#results" swap="outerHTML" %}',
        page=pages.page(3), query="q=a&b",
    )
    assert 'href="/list/?q=a&amp;b&amp;page=2"' in html and 'hx-get="/list/?q=a&amp;b&amp;page=2"' in html
    assert 'hx-target="#results" hx-swap="outerHTML" hx-push-url="true"' in html and "Next" not in html
    assert render('{% include "_pagination.html" with page=page %}', page=Paginator(range(3), 10).page(1)).strip() == ""


@translation.override("en")
def test_csv_link():
    assert render('{% load dashboard_format %}{% csv_link qs "tiers" %}', qs="period=month&tier=1") == (
        '<a class="btn btn-sm" href="?period=month&amp;tier=1&amp;format=csv&amp;table=tiers">CSV</a>'
    )
    assert render('{% load dashboard_format %}{% csv_link qs %}', qs="") == (
        '<a class="btn btn-sm" href="?format=csv">Export CSV</a>'
    )
