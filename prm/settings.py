"""Shien settings: everything that differs between machines is read from the environment.

The embedded default (no environment at all) is a SQLite file in the repository folder and
Celery tasks run eagerly, which is what `make run` and `make test` use.
"""

import os
import tempfile
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from enablement.certifications.schedule import CELERY_BEAT_SCHEDULE as CERTIFICATIONS_BEAT_SCHEDULE
from enablement.schedule import CELERY_BEAT_SCHEDULE as LOG_BEAT_SCHEDULE
from kpis.schedule import CELERY_BEAT_SCHEDULE as KPI_BEAT_SCHEDULE
from partners.deals.schedule import CELERY_BEAT_SCHEDULE as DEALS_BEAT_SCHEDULE

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

PRODUCTION = False  # True in prm.settings_production
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="django-insecure-local-development-only-not-for-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "partners.apps.ShienAdminConfig",  # django.contrib.admin with a membership-based site (partners.tenancy.admin)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "axes",
    "partners",
    "partners.deals",
    "partners.notifications",
    "enablement",
    "enablement.lrs.apps.LrsConfig",
    "enablement.packages.apps.PackagesConfig",
    "enablement.certifications.apps.CertificationsConfig",
    "enablement.assessments.apps.AssessmentsConfig",
    "kpis",
    "kpis.patterns",
]

MIDDLEWARE = [
    "prm.health.HealthMiddleware",  # /healthz and /readyz, before host validation and redirects
    "prm.logs.RequestIdMiddleware",  # X-Request-ID on every log line and response
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "partners.security.BodySizeLimitMiddleware",
    "partners.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "partners.replica.PinToPrimaryMiddleware",  # after a write, read the primary (replica lag)
    "partners.tenancy.middleware.TenantMiddleware",
    "partners.tenancy.middleware.MfaRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "prm.urls"
WSGI_APPLICATION = "prm.wsgi.application"
ASGI_APPLICATION = "prm.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "partners.context_processors.tenancy",
                "partners.notifications.context_processors.notifications",
                "prm.navigation.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL wins when set (postgres://...); the default is a SQLite file with WAL and
# IMMEDIATE transactions so that concurrent writers queue instead of failing.
DATABASES = {
    "default": env.db(
        "DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                "PRAGMA busy_timeout=20000;"
            ),
        }
    )
    # Tests use a file, not ":memory:": the live server (browser tests) then gives each request
    # thread its own connection instead of sharing one across concurrent htmx requests.
    DATABASES["default"]["TEST"] = {
        "NAME": env("SQLITE_TEST_NAME", default=str(Path(tempfile.gettempdir()) / f"shien-test-{os.getpid()}.sqlite3"))
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A streaming replica for dashboard reads (prm/replica.py): given, views wrapped in replica_reads
# read from it, everything else (and every write, and a browser's reads for a while after it wrote)
# uses the primary. Connect as the same application role; tests mirror it onto the test database.
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS"):
        if key in DATABASES["default"]:
            DATABASES["replica"][key] = DATABASES["default"][key]
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["partners.replica.ReplicaRouter"]
# Longer than the replica's normal lag: after a write, the same browser reads the primary this long.
DATABASE_REPLICA_PIN_SECONDS = env.int("DATABASE_REPLICA_PIN_SECONDS", default=10)
# PostgreSQL row-level security (partners/tenancy/rls.py): the role the web and workers connect as
# (not the tables' owner, which runs the migrations). Given, `migrate` grants it only SELECT and
# INSERT on the append-only tables.
DATABASE_APP_ROLE = env("DATABASE_APP_ROLE", default="")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "partners.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

# Accounts run on django-allauth: e-mail login, no open sign-up (people arrive by invitation or
# through their tenant's SSO), verified e-mail addresses, password reset, MFA.
ACCOUNT_ADAPTER = "partners.accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "partners.accounts.adapters.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Shien] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env("ACCOUNT_DEFAULT_HTTP_PROTOCOL", default="http")
# Failed logins are django-axes' job (per account and address, with the lockout page); allauth's own
# limits stay on for password reset, e-mail confirmation and the rest.
ACCOUNT_RATE_LIMITS = {"login_failed": False}
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "Shien PRM"
# One 30-second step either side (RFC 6238 §5.2): a code typed as the phone turns over, or from a
# phone whose clock is a few seconds off, is accepted. allauth still refuses a code used once
# within that window, so the wider window gives no replay.
MFA_TOTP_TOLERANCE = 1
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG  # http://localhost in development only
# The second factor is required for operators (superusers) and tenant admins, and for channel
# managers / partner users where the tenant says so (Tenant.mfa_required_for). Tests switch it off
# only where they are not about MFA.
MFA_ENFORCED = env.bool("MFA_ENFORCED", default=True)
SOCIALACCOUNT_ONLY = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # an IdP never takes over an existing account by e-mail alone
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"OAUTH_PKCE_ENABLED": True}}
# SSO client secrets are stored encrypted with this Fernet key (32 url-safe base64 bytes); without it
# a secret can only come from the environment variable the tenant admin names.
SSO_SECRET_KEY = env("SSO_SECRET_KEY", default="")
# The server fetches IdP URLs (OIDC discovery, JWKS; SAML metadata) only from public addresses
# (partners/accounts/outbound.py). True lets a development or test IdP on localhost / a private
# network through; never in production.
SSO_ALLOW_PRIVATE_ADDRESSES = env.bool("SSO_ALLOW_PRIVATE_ADDRESSES", default=False)
# Absolute links in e-mails (invitations, notifications, unsubscribe) start with this.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
INVITATION_MAX_AGE_DAYS = env.int("INVITATION_MAX_AGE_DAYS", default=7)


# Repeated login failures, stored in the database (no Redis). Two independent counters: per account
# (guessing one person's password from many addresses) and per client address (spraying many
# accounts from one address); either one reaching AXES_FAILURE_LIMIT locks for AXES_COOLOFF_HOURS.
# Behind NAT a whole office shares one address: raise the limit rather than drop the IP counter.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "partners.views.accounts.locked_out"  # 429 with the wait time
AXES_USERNAME_FORM_FIELD = "login"  # allauth's login form
AXES_USERNAME_CALLABLE = "partners.accounts.axes_username"
AXES_RESET_ON_SUCCESS = True  # only the account's own failures (partners.security.LoginAttemptHandler)
AXES_HANDLER = "partners.security.LoginAttemptHandler"
AXES_VERBOSE = False

# The client address (login lockout, rate limits, audit log) comes from django-ipware. By default
# only the socket address counts. Behind a reverse proxy / load balancer, say how many proxies put
# themselves in X-Forwarded-For (TRUSTED_PROXY_COUNT) and/or their addresses (TRUSTED_PROXY_IPS):
# then the header is read, and only as far as those proxies vouch for it. Never trust the header
# without a proxy that overwrites it: clients could then choose their own address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=env.int("AXES_PROXY_COUNT", default=0))
TRUSTED_PROXY_IPS = env.list("TRUSTED_PROXY_IPS", default=[])
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT or None
AXES_IPWARE_PROXY_TRUSTED_IPS = TRUSTED_PROXY_IPS or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if (TRUSTED_PROXY_COUNT or TRUSTED_PROXY_IPS) else ["REMOTE_ADDR"]
)

# Invitations: the link in the e-mail works for this many days.
INVITATION_MAX_AGE_DAYS = env.int("INVITATION_MAX_AGE_DAYS", default=7)

# The Django admin lives at /<ADMIN_URL>/ (a less guessable path cuts scanner noise; access still
# needs an operator or tenant-admin login).
ADMIN_URL = env("ADMIN_URL", default="admin/").strip("/") + "/"
# The OpenAPI schema and its browsable docs (/api/schema/, /api/docs/) are public when True.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=True)

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = 60 * 60 * 12

# --- I18N ---------------------------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
# One catalogue per context: <context>/locale/ja/LC_MESSAGES/django.po (+ compiled .mo), and locale/ at the
# root for the site-wide templates (templates/*.html) and prm/. Deepest first: `makemessages` gives a source
# file to the first entry whose parent directory contains it (templates/<context>/ go to that context's
# catalogue: partners/management/commands/makemessages.py). All catalogues are merged into one gettext
# domain at run time, so a msgid means one thing everywhere; a word with two meanings gets a msgctxt
# (tests/i18n/test_catalogues.py checks both).
LOCALE_PATHS = [
    BASE_DIR / context / "locale"
    for context in (
        "partners/deals", "partners/notifications", "kpis/patterns", "enablement/lrs", "enablement/packages",
        "enablement/certifications", "enablement/assessments", "partners", "enablement", "kpis", ".",
    )
]
USE_I18N = True
TIME_ZONE = "Asia/Tokyo"
USE_TZ = True
# One date and one date-time format per language (prm/formats/<lang>/formats.py): templates use
# |date:"SHORT_DATE_FORMAT" / "SHORT_DATETIME_FORMAT", CSV exports the same, in the tenant's time zone.
FORMAT_MODULE_PATH = ["prm.formats"]

# --- Static and media ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded files are private: they are served only through authorised views, never by URL.
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=200 * 1024 * 1024)
# Request-body caps (README "Request size limits"). Non-file request bodies (forms, JSON) above
# DATA_UPLOAD_MAX_MEMORY_SIZE are refused (400); so are forms with more than
# DATA_UPLOAD_MAX_NUMBER_FIELDS fields or DATA_UPLOAD_MAX_NUMBER_FILES files. Uploaded files up to
# FILE_UPLOAD_MAX_MEMORY_SIZE stay in memory, larger ones stream to a temporary file; their total
# is capped per view by UPLOAD_MAX_BYTES (manage-area uploads) and, for anonymous requests, by
# ANONYMOUS_BODY_MAX_BYTES (partners.security.BodySizeLimitMiddleware: 413 before reading).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("DATA_UPLOAD_MAX_NUMBER_FIELDS", default=1000)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DATA_UPLOAD_MAX_NUMBER_FILES", default=20)
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
ANONYMOUS_BODY_MAX_BYTES = env.int("ANONYMOUS_BODY_MAX_BYTES", default=64 * 1024)
AUTHENTICATED_BODY_MAX_BYTES = env.int("AUTHENTICATED_BODY_MAX_BYTES", default=UPLOAD_MAX_BYTES + 1024 * 1024)
# xAPI LRS (enablement/lrs): attachment content sent in multipart/mixed is kept in the default
# storage under t<tenant>/lrs-attachments/; larger attachments are refused with 400, larger requests 413.
LRS_ATTACHMENT_MAX_BYTES = env.int("LRS_ATTACHMENT_MAX_BYTES", default=20 * 1024 * 1024)
LRS_REQUEST_MAX_BYTES = env.int("LRS_REQUEST_MAX_BYTES", default=50 * 1024 * 1024)
# A profile PUT without If-Match / If-None-Match: 400 for a new document (as the ADL conformance
# suite checks), 409 for an existing one; off lets clients create profiles with a bare PUT.
LRS_PROFILE_PUT_REQUIRES_PRECONDITION = env.bool("LRS_PROFILE_PUT_REQUIRES_PRECONDITION", default=True)
# Packaged courses (enablement/packages): limits of an unpacked zip (files, total bytes, compression
# ratio of one entry) and how long a launch's content URL stays valid.
PACKAGE_MAX_FILES = env.int("PACKAGE_MAX_FILES", default=5000)
PACKAGE_MAX_UNPACKED_BYTES = env.int("PACKAGE_MAX_UNPACKED_BYTES", default=1024 * 1024 * 1024)
PACKAGE_MAX_RATIO = env.int("PACKAGE_MAX_RATIO", default=200)
PACKAGE_TOKEN_MAX_AGE = env.int("PACKAGE_TOKEN_MAX_AGE", default=8 * 3600)

# --- Security (hardened further in prm.settings_production) --------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "media-src": [CSP.SELF, "blob:", "https:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie

# Django 6.1 mailers: the console in development; production.py configures SMTP.
# Outgoing webhooks go only to public addresses: the resolved address of each delivery is checked and
# pinned (requests-hardened), so a tenant admin cannot point one at this network (metadata service,
# database, broker). Loopback is allowed only where this is true (local development and the tests).
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=False)
MAILERS = {"default": {"BACKEND": env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")}}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="shien@localhost")

# --- Celery -------------------------------------------------------------------------------------
# No broker configured (the embedded default): tasks run eagerly in the calling process.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None) or None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The longest task may run 30 minutes (hard limit; the soft limit 5 minutes earlier lets it fail
# cleanly). Settable for drills (tests/kpis/test_redelivery.py runs a worker with seconds).
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=CELERY_TASK_TIME_LIMIT - 5 * 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request thread never waits on the broker for more than about a second: short connect and socket
# timeouts and no publish retries (services enqueue on commit; when the broker is down the request
# is recorded and the next beat run picks it up). The visibility timeout (how long an unacknowledged
# task waits before Redis hands it to another worker) must exceed the longest task, or a long
# rollup would run twice: the hard time limit plus a margin.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=1.0)
CELERY_BROKER_SOCKET_TIMEOUT = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=1.0)
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
    "max_retries": 0,
    # A task whose worker died (SIGKILL, OOM, lost machine) is handed to another worker this long
    # after it was delivered: 35 minutes by default, always more than the hard time limit so a live
    # task is never run twice. Measured in docs/operations.md.
    "visibility_timeout": env.int("CELERY_BROKER_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 5 * 60),
    # Every live worker sweeps for such tasks every 10 s (kombu's default scans only every 10th
    # sweep, adding up to 100 s); one ZRANGE on Redis per worker per sweep.
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
if CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_BROKER_VISIBILITY_TIMEOUT must exceed CELERY_TASK_TIME_LIMIT")
# A running rollup renews its lease by a heartbeat; a run not renewed for this long is stale.
KPIS_ROLLUP_LEASE_SECONDS = env.int("KPIS_ROLLUP_LEASE_SECONDS", default=120)
# The nightly job recomputes this many recent days of facts and states from the log.
KPIS_NIGHTLY_RECOMPUTE_DAYS = env.int("KPIS_NIGHTLY_RECOMPUTE_DAYS", default=7)
CELERY_BEAT_SCHEDULE = {  # static: the schedule modules have no Django imports
    **KPI_BEAT_SCHEDULE, **DEALS_BEAT_SCHEDULE, **CERTIFICATIONS_BEAT_SCHEDULE, **LOG_BEAT_SCHEDULE,
}

# --- REST framework ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Shien PRM API",
    "DESCRIPTION": "Partner enablement: activity ingestion, partners, assets, KPIs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "PartnerStatusEnum": "partners.models.PartnerStatus",
        "AssetStatusEnum": "enablement.models.AssetStatus",
        "KpiStatusEnum": "kpis.models.KpiStatus",
        "DealStageEnum": "partners.deals.models.DealStage",
    },
}

# LOG_FORMAT=json (the production default): one JSON object per line with the request id.
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "prm.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "prm.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
