"""Login protection (django-axes + django-ipware: per account and per address), request-body caps,
the seed_demo production guard, the configurable admin path and the API docs setting."""

from __future__ import annotations

import importlib

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import clear_url_caches, reverse

from tests import factories as f

pytestmark = pytest.mark.django_db


def _login(client, email, password="wrong", ip="198.51.100.10", **extra):
    return client.post(reverse("account_login"), {"login": email, "password": password}, REMOTE_ADDR=ip, **extra)


def test_ipware_is_installed_and_used_by_axes():
    import ipware  # noqa: F401
    from axes import helpers

    assert helpers.IPWARE_INSTALLED


def test_spraying_many_accounts_from_one_address_is_locked(client, settings, tenant_a):
    users = [f.UserFactory(email=f"victim{i}@example.test") for i in range(20)]
    statuses = [_login(client, u.email).status_code for u in users]
    assert statuses[: settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[-1] == 429 and statuses.count(429) >= 20 - settings.AXES_FAILURE_LIMIT
    # even the right password of an untouched account is refused from that address now
    fresh = f.UserFactory(email="fresh@example.test")
    assert _login(client, fresh.email, password=f.PASSWORD).status_code == 429
    # another address is not affected
    assert _login(client, fresh.email, password=f.PASSWORD, ip="198.51.100.99").status_code == 302


def test_logging_into_an_own_account_between_attempts_does_not_reset_the_address(client, settings):
    own = f.UserFactory(email="attacker@example.test")
    victims = [f.UserFactory(email=f"v{i}@example.test") for i in range(20)]
    locked = False
    for i, victim in enumerate(victims):
        if i % 2 == 1:
            ok = _login(client, own.email, password=f.PASSWORD)
            locked = locked or ok.status_code == 429
            client.logout()
        locked = locked or _login(client, victim.email).status_code == 429
    assert locked


def test_one_account_from_many_addresses_is_locked(client, settings):
    user = f.UserFactory(email="target@example.test")
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(client, user.email, ip=f"192.0.2.{i + 1}")
    response = _login(client, user.email, password=f.PASSWORD, ip="192.0.2.200")
    assert response.status_code == 429


def test_lockout_page_says_how_long_to_wait(client, settings):
    user = f.UserFactory(email="wait@example.test")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = _login(client, user.email)
    assert response.status_code == 429
    minutes = int(settings.AXES_COOLOFF_TIME * 60)
    assert f"{minutes}" in response.text
    assert response["Retry-After"] == str(minutes * 60)


def test_trusted_proxy_header_is_used_only_when_configured(rf, settings):
    from partners.audit import client_ip

    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.5, 10.0.0.2")
    assert client_ip(request) == "10.0.0.2"  # default: the socket address, the header is not trusted
    settings.AXES_IPWARE_PROXY_COUNT = 1
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
    request = rf.get("/", REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="203.0.113.5, 10.0.0.2")
    assert client_ip(request) == "203.0.113.5"


def test_a_40_mb_anonymous_multipart_post_to_login_is_refused(client):
    boundary = "----shienboundary"
    payload = b"x" * (40 * 1024 * 1024)
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\na@example.test\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    response = client.generic("POST", reverse("account_login"), body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code in (400, 413)


def test_body_caps_are_set(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 5 * 1024 * 1024
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 10 * 1024 * 1024
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS <= 2000
    assert settings.ANONYMOUS_BODY_MAX_BYTES <= 1024 * 1024


def test_normal_login_still_works_under_the_cap(client, manager_a):
    response = client.post(reverse("account_login"), {"login": manager_a.user.email, "password": f.PASSWORD})
    assert response.status_code == 302


def test_seed_demo_refuses_production_settings(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="--force-production"):
        call_command("seed_demo")


def test_seed_demo_under_the_production_settings_module_refuses(tmp_path):
    import os
    import subprocess
    import sys

    from django.conf import settings as django_settings

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "prm.settings_production", "SECRET_KEY": "x" * 50,
           "ALLOWED_HOSTS": "example.test", "SITE_URL": "https://example.test", "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}"}
    done = subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=django_settings.BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "--force-production" in done.stderr


@pytest.fixture
def reload_urls():
    import prm.urls

    yield lambda: (importlib.reload(prm.urls), clear_url_caches())
    importlib.reload(prm.urls)
    clear_url_caches()


def test_admin_path_is_configurable(client, reload_urls, settings):
    su = f.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(su)
    with override_settings(ADMIN_URL="ops-console-7f3/"):
        reload_urls()
        assert reverse("admin:index") == "/ops-console-7f3/"
        assert client.get("/ops-console-7f3/").status_code == 200
        assert client.get("/admin/").status_code == 404


def test_api_docs_follow_the_setting(client, settings):
    settings.API_DOCS_PUBLIC = False
    assert client.get("/api/schema/").status_code == 404
    assert client.get("/api/docs/").status_code == 404
    settings.API_DOCS_PUBLIC = True
    assert client.get("/api/schema/").status_code == 200
