"""One env-driven settings module.

Defaults give the embedded setup: SQLite under ``WUYE_DATA_DIR`` (``./var``) and Huey on SQLite.
``DATABASE_URL`` switches to PostgreSQL; ``REDIS_URL`` moves the job queue to Redis.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dj_database_url


def envbool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("WUYE_DATA_DIR", Path.cwd() / "var")).resolve()
if os.environ.get("PYTEST_XDIST_WORKER"):
    # the test suite on several cores: each worker keeps its own files (locks, outbox, job queue)
    DATA_DIR = DATA_DIR / os.environ["PYTEST_XDIST_WORKER"]
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = envbool("WUYE_DEBUG", False)
# `wuye demo` sets WUYE_DEMO=1: a local demo may run with the development key. Outside debug and demo mode a
# missing or weak WUYE_SECRET_KEY stops every server process (check wuye.E001, wuye.common.checks).
WUYE_DEMO = envbool("WUYE_DEMO", False)
WUYE_SECRET_KEY_SET = bool(os.environ.get("WUYE_SECRET_KEY"))
SECRET_KEY = os.environ.get("WUYE_SECRET_KEY") or "insecure-dev-key-change-me-in-production-0123456789"
ALLOWED_HOSTS = envlist("WUYE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = envlist("WUYE_CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.environ.get("WUYE_SITE_URL", "http://127.0.0.1:8000")
COMPANY_NAME = os.environ.get("WUYE_COMPANY_NAME", "物业服务有限公司")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "huey.contrib.djhuey",
    "axes",
    "wuye.common",
    "wuye.accounts",
    "wuye.estate",
    "wuye.billing",
    "wuye.dunning",
    "wuye.casework",
    "wuye.legal",
    "wuye.insights",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "wuye.common.memo.RequestMemoMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "wuye.common.middleware.ContentSecurityPolicyMiddleware",
    "wuye.common.replica.ReplicaReadsMiddleware",
]

ROOT_URLCONF = "wuye.urls"
WSGI_APPLICATION = "wuye.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wuye.common.context_processors.site",
                "wuye.accounts.context_processors.ui_permissions",
                "wuye.legal.context_processors.legal_badges",
            ],
        },
    }
]

# --- database -------------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
# Every SQLite database gets these, whether named by WUYE_SQLITE_PATH / WUYE_DATA_DIR or by
# DATABASE_URL=sqlite:///…: WAL lets the web server read while the worker writes; IMMEDIATE takes the write lock
# when a transaction starts (a deferred one that must upgrade fails at once with "database is locked", the
# busy timeout does not apply to it); busy_timeout makes a second writer wait up to 10 s instead of failing.
SQLITE_OPTIONS = {
    # WAL itself is switched on by wuye.common.sqlite.ensure_wal (once per file, retried when processes race)
    "init_command": "PRAGMA busy_timeout=10000; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
}
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("WUYE_CONN_MAX_AGE", 60))}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("WUYE_SQLITE_PATH", str(DATA_DIR / "wuye.sqlite3")),
        }
    }
# PostgreSQL's JIT compiles a query whose cost estimate is high, which a page's grouped read over a territory
# or a project often has (a correlated subquery is costed as if run for every row): on the worklist it spent
# 270 ms compiling a query that runs in 15 ms (bench/results/load.md, decision 72). Off for every connection;
# WUYE_PG_JIT=1 leaves the server's setting.
PG_JIT = envbool("WUYE_PG_JIT", False)
# DATABASE_REPLICA_URL: a streaming replica of the primary (PostgreSQL). The report pages read from it
# (wuye.common.replica: WUYE_REPLICA_VIEWS names them); every write and every other read stays on the primary.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=envint("WUYE_CONN_MAX_AGE", 60))
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}  # tests: the replica is the test database itself
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.postgresql":
        # a write that reached the replica by mistake fails loudly instead of failing on the standby alone
        DATABASES["replica"].setdefault("OPTIONS", {})["options"] = "-c default_transaction_read_only=on"
DATABASE_ROUTERS = ["wuye.common.replica.ReplicaRouter"]
WUYE_REPLICA_VIEWS = envlist("WUYE_REPLICA_VIEWS", "insights:*,insights-*,disclosure-public")
for _db in DATABASES.values():
    if _db["ENGINE"] == "django.db.backends.sqlite3":
        _db["OPTIONS"] = {**SQLITE_OPTIONS, **_db.get("OPTIONS", {})}
    elif _db["ENGINE"] == "django.db.backends.postgresql" and not PG_JIT:
        options = _db.setdefault("OPTIONS", {})
        options["options"] = (options.get("options", "") + " -c jit=off").strip()
del _db
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
# A form posted from a stale page gets a Chinese page with a way back, not Django's English 403.
CSRF_FAILURE_VIEW = "wuye.errors.csrf_failure"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Each role's first page after login (when no ``next`` address is given); roles not listed land on "home".
# Collectors start on their worklist, finance on the unit search (the desk: find a unit, take a payment),
# legal on its cases, the manager on the insights dashboard.
WUYE_ROLE_LANDING = {"legal": "legal:case-list", "collector": "casework:worklist", "finance": "estate:unit-list",
                     "manager": "insights:home"}
# Staff login throttling (django-axes, wuye.accounts.throttle): WUYE_LOGIN_FAILURES_PER_ACCOUNT failures of one
# username or WUYE_LOGIN_FAILURES_PER_IP from one client address within WUYE_LOGIN_LOCKOUT_MINUTES lock it for
# as long; the lock-out is audited (login.locked). The address is wuye.common.http.client_ip (trusted proxies).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
WUYE_LOGIN_FAILURES_PER_ACCOUNT = envint("WUYE_LOGIN_FAILURES_PER_ACCOUNT", 5)
WUYE_LOGIN_FAILURES_PER_IP = envint("WUYE_LOGIN_FAILURES_PER_IP", 30)
WUYE_LOGIN_LOCKOUT_MINUTES = envint("WUYE_LOGIN_LOCKOUT_MINUTES", 15)
# django-axes' records (attempts, failure and login logs) older than this are deleted daily (accounts.tasks)
WUYE_LOGIN_RECORDS_RETENTION_DAYS = envint("WUYE_LOGIN_RECORDS_RETENTION_DAYS", 90)
# one-time keys of forms and API requests (wuye.common.once): how long a repeat is still recognised
WUYE_SUBMISSION_RETENTION_DAYS = envint("WUYE_SUBMISSION_RETENTION_DAYS", 30)
AXES_ENABLED = envbool("WUYE_LOGIN_THROTTLE", True)
AXES_FAILURE_LIMIT = WUYE_LOGIN_FAILURES_PER_ACCOUNT
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = dt.timedelta(minutes=WUYE_LOGIN_LOCKOUT_MINUTES)
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "wuye.accounts.throttle.LoginHandler"
AXES_LOCKOUT_CALLABLE = "wuye.accounts.throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "wuye.common.http.client_ip"
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = True
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
# Argon2id first (decision 192); the others only verify old hashes, which are upgraded at the next login.
PASSWORD_HASHERS = [
    "wuye.accounts.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# --- i18n: Simplified Chinese first; stored in UTC, shown in Asia/Shanghai ------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# WhiteNoise serves the vendored assets from the package itself, so no collectstatic and no CDN are needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("WUYE_MEDIA_ROOT", DATA_DIR / "media"))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024
WUYE_IMPORT_MAX_BYTES = envint("WUYE_IMPORT_MAX_BYTES", 50 * 1024 * 1024)
# Bounds on reading an uploaded table (estate import, bank statements, debit result files; see
# wuye.common.tabular and docs/import.md): beyond any of them the file is refused with a message naming it,
# before it can cost much memory or time. Rows and columns count as Excel numbers them (a far cell counts
# where it is); cells are the positions kept (rows × their width); an .xlsx is a zip and its members'
# declared uncompressed sizes are checked before any is inflated.
WUYE_IMPORT_MAX_ROWS = envint("WUYE_IMPORT_MAX_ROWS", 100_000)
WUYE_IMPORT_MAX_COLUMNS = envint("WUYE_IMPORT_MAX_COLUMNS", 200)
WUYE_IMPORT_MAX_CELLS = envint("WUYE_IMPORT_MAX_CELLS", 3_000_000)
WUYE_IMPORT_MAX_ROW_CHARS = envint("WUYE_IMPORT_MAX_ROW_CHARS", 20_000)
WUYE_IMPORT_MAX_UNPACKED_BYTES = envint("WUYE_IMPORT_MAX_UNPACKED_BYTES", 200 * 1024 * 1024)
WUYE_IMPORT_MAX_COMPRESSION_RATIO = envint("WUYE_IMPORT_MAX_COMPRESSION_RATIO", 200)

# --- outbound channels (dunning → notify) ---
# Which backend sends each channel: file (JSON lines under WUYE_OUTBOX_DIR), console, tencent or aliyun
# (SMS), wechat (template messages), smtp (e-mail). Gateways' keys come from the environment, never the repo.
WUYE_OUTBOX_DIR = Path(os.environ.get("WUYE_OUTBOX_DIR", DATA_DIR / "outbox"))
WUYE_CHANNEL_BACKENDS = {
    "sms": os.environ.get("WUYE_SMS_BACKEND", "file"),
    "wechat": os.environ.get("WUYE_WECHAT_BACKEND", "file"),
    "email": os.environ.get("WUYE_EMAIL_BACKEND", "file"),
}
WUYE_CHANNEL_OPTIONS = {
    "tencent": {
        "secret_id": os.environ.get("WUYE_TENCENT_SECRET_ID", ""),
        "secret_key": os.environ.get("WUYE_TENCENT_SECRET_KEY", ""),
        "app_id": os.environ.get("WUYE_TENCENT_SMS_APP_ID", ""),
        "region": os.environ.get("WUYE_TENCENT_REGION", "ap-guangzhou"),
        "endpoint": os.environ.get("WUYE_TENCENT_SMS_ENDPOINT", "sms.tencentcloudapi.com"),
    },
    "aliyun": {
        "access_key_id": os.environ.get("WUYE_ALIYUN_ACCESS_KEY_ID", ""),
        "access_key_secret": os.environ.get("WUYE_ALIYUN_ACCESS_KEY_SECRET", ""),
        "endpoint": os.environ.get("WUYE_ALIYUN_SMS_ENDPOINT", "dysmsapi.aliyuncs.com"),
    },
    "wechat": {
        "app_id": os.environ.get("WUYE_WECHAT_APP_ID", ""),
        "app_secret": os.environ.get("WUYE_WECHAT_APP_SECRET", ""),
        "api_base": os.environ.get("WUYE_WECHAT_API_BASE", "https://api.weixin.qq.com"),
    },
    "smtp": {},  # Django's EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER … apply
}
EMAIL_HOST = os.environ.get("WUYE_EMAIL_HOST", "localhost")
EMAIL_PORT = envint("WUYE_EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("WUYE_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("WUYE_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = envbool("WUYE_EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("WUYE_EMAIL_FROM", "noreply@localhost")
# Crash recovery: an action left "sending" longer than this is checked with the provider, never resent blind.
WUYE_SEND_LEASE_SECONDS = envint("WUYE_SEND_LEASE_SECONDS", 300)
# Delivery receipts: providers push to /api/v1/receipts/<tencent|aliyun|wechat>/<WUYE_RECEIPT_TOKEN>/ (a long
# random secret; empty disables the endpoints). WeChat's pushes are also checked against the message-server
# token configured in the official account (WUYE_WECHAT_SERVER_TOKEN).
WUYE_RECEIPT_TOKEN = os.environ.get("WUYE_RECEIPT_TOKEN", "")
WUYE_WECHAT_SERVER_TOKEN = os.environ.get("WUYE_WECHAT_SERVER_TOKEN", "")

# --- API --------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["wuye.common.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "wuye.common.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "wuye.common.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Wuye 物业收缴 API",
    "DESCRIPTION": "物业费收缴与催缴系统的 REST 接口。",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # the schema lists every endpoint and field: staff only (session or token), like the API itself
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LegalOutcomeEnum": "wuye.legal.choices.Outcome",
        "LegalProofKindEnum": "wuye.legal.choices.ProofKind",
        "LegalCostKindEnum": "wuye.legal.choices.CostKind",
        "LegalDeadlineKindEnum": "wuye.legal.choices.DeadlineKind",
        "CollectionChannelEnum": "wuye.dunning.choices.Channel",
        "DisputeReasonEnum": "wuye.casework.choices.DisputeReason",
        "PaymentMethodEnum": "wuye.billing.choices.PaymentMethod",
        "FieldPaymentMethodEnum": "wuye.portal.choices.FieldPaymentMethod",
    },
}

# --- jobs ---------------------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
HUEY_IMMEDIATE = envbool("WUYE_HUEY_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": os.environ.get("WUYE_HUEY_NAME", "wuye") + os.environ.get("PYTEST_XDIST_WORKER", ""),
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "utc": True,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "wuye",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
        "utc": True,
    }

# The 06:00 daily run spread over every worker (wuye.fanout): the periodic worker coordinates and waits up to
# WUYE_DISTRIBUTED_TIMEOUT seconds; give the machine that runs periodic jobs at least two worker threads.
WUYE_DISTRIBUTED_DAILY = envbool("WUYE_DISTRIBUTED_DAILY", False)
WUYE_DISTRIBUTED_TIMEOUT = envint("WUYE_DISTRIBUTED_TIMEOUT", 5400)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("WUYE_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = envint("WUYE_SESSION_AGE", 12 * 3600)
X_FRAME_OPTIONS = "DENY"

# --- the manager's numbers (wuye.insights) -------------------------------------------------------------
# Closed months rechecked by the monthly close job for entries dated inside them that arrived later.
WUYE_INSIGHTS_RECHECK_MONTHS = envint("WUYE_INSIGHTS_RECHECK_MONTHS", 3)
# The month in progress is shown from its provisional snapshot (written hourly by a job, never by a page);
# older than this, the page says the figures may be stale and offers a manager the refresh.
WUYE_INSIGHTS_LIVE_MAX_AGE_SECONDS = envint("WUYE_INSIGHTS_LIVE_MAX_AGE_SECONDS", 3600)
# work_mem for the transaction of a close or a provisional snapshot on PostgreSQL (its sorts and hashes of a
# million lines stay in memory).
WUYE_INSIGHTS_WORK_MEM = os.environ.get("WUYE_INSIGHTS_WORK_MEM", "256MB")
# Cost of one action per channel in fen, for 催缴步骤效果 (defaults in wuye.insights.steps.DEFAULT_COSTS_FEN:
# SMS 0.05, call 3, visit 20, registered letter 15, written notice 3 yuan); entries here override them.
WUYE_INSIGHTS_STEP_COSTS_FEN: dict[str, int] = {}
# 预警模型: reference months in one training (each gives one example per account), the most accounts drawn
# from one reference month (an even spread by id; scoring always covers every account), and the risk from
# which an account is shown as high risk on the worklist.
WUYE_RISK_TRAIN_MONTHS = envint("WUYE_RISK_TRAIN_MONTHS", 6)
WUYE_RISK_MAX_ROWS_PER_MONTH = envint("WUYE_RISK_MAX_ROWS_PER_MONTH", 200_000)
WUYE_RISK_HIGH = float(os.environ.get("WUYE_RISK_HIGH", "0.5"))
# The worklist (casework) reads the scores through this path: casework does not import insights.
WUYE_RISK_SCORES = "wuye.insights.selectors.risk_by_unit"
# 业主信用等级: lines due in the last 24 months below which a record is too short for grade A.
WUYE_CREDIT_MIN_LINES = envint("WUYE_CREDIT_MIN_LINES", 6)
# 收费公示: a quarter is published only when at least this many units were billed in it (no small groups).
WUYE_DISCLOSURE_MIN_UNITS = envint("WUYE_DISCLOSURE_MIN_UNITS", 20)

# --- HTTPS and proxies (README "Deploying behind HTTPS"; `wuye check --deploy` names what is missing) ---------
# Behind the company's reverse proxy that terminates TLS: WUYE_BEHIND_HTTPS_PROXY=1 trusts its
# X-Forwarded-Proto (the proxy must set it and strip what clients send); WUYE_TRUSTED_PROXIES lists the proxies'
# addresses or networks whose X-Forwarded-For is believed (wuye.common.http.client_ip: audit, login throttle,
# rate limits, the payer IP sent to WeChat Pay H5). WUYE_SECURE_COOKIES=1 sends session and CSRF cookies over
# HTTPS only; WUYE_SSL_REDIRECT=1 redirects plain HTTP; WUYE_HSTS_SECONDS (e.g. 31536000) with
# WUYE_HSTS_INCLUDE_SUBDOMAINS / WUYE_HSTS_PRELOAD sends Strict-Transport-Security.
WUYE_TRUSTED_PROXIES = envlist("WUYE_TRUSTED_PROXIES", "")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("WUYE_BEHIND_HTTPS_PROXY") else None
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("WUYE_SECURE_COOKIES", False)
SECURE_SSL_REDIRECT = envbool("WUYE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = envint("WUYE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("WUYE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("WUYE_HSTS_PRELOAD", False)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (wuye.common.middleware): assets are vendored, templates have no inline script or
# style, so 'self' suffices; data: images for the favicon placeholder, Bootstrap's icons and PNG QR codes. No
# form-action: the pay form's answer redirects to WeChat (网页授权, H5) or Alipay, and browsers apply
# form-action to where a form submission redirects.
WUYE_CONTENT_SECURITY_POLICY = os.environ.get("WUYE_CSP", "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
    "connect-src 'self'", "object-src 'none'", "base-uri 'self'", "frame-ancestors 'none'",
]))

# --- owner portal and online payment (wuye.portal) ----------------------------------------------------
# WeChat Pay v3 and Alipay. Keys and certificates are files named here (never in the repository); ids come
# from the environment. Online payment is offered only when a provider's settings are complete.
INSTALLED_APPS += ["wuye.portal", "wuye.banking"]
WECHATPAY_MCHID = os.environ.get("WECHATPAY_MCHID", "")
WECHATPAY_APPID = os.environ.get("WECHATPAY_APPID", "")
WECHATPAY_APIV3_KEY = os.environ.get("WECHATPAY_APIV3_KEY", "")
WECHATPAY_CERT_SERIAL_NO = os.environ.get("WECHATPAY_CERT_SERIAL_NO", "")
WECHATPAY_PRIVATE_KEY_FILE = os.environ.get("WECHATPAY_PRIVATE_KEY_FILE", "")
# Either the platform certificate or the platform public key with its id (WeChat's newer scheme).
WECHATPAY_PLATFORM_CERT_FILE = os.environ.get("WECHATPAY_PLATFORM_CERT_FILE", "")
WECHATPAY_PUBLIC_KEY_FILE = os.environ.get("WECHATPAY_PUBLIC_KEY_FILE", "")
WECHATPAY_PUBLIC_KEY_ID = os.environ.get("WECHATPAY_PUBLIC_KEY_ID", "")
WECHATPAY_API_BASE = os.environ.get("WECHATPAY_API_BASE", "https://api.mch.weixin.qq.com")
# 微信内支付 (JSAPI) needs the payer's openid for the company's WeChat service account (公众号), obtained by
# silent OAuth (snsapi_base). Set the account's AppID and a file holding its AppSecret (never the secret
# itself); without both, owners inside WeChat get the QR code to long-press. The endpoints are WeChat's and
# change only for tests (a local stand-in). In the WeChat consoles: 网页授权域名 = the host of
# WUYE_PAY_NOTIFY_BASE; JSAPI 支付授权目录 = that site's root (https://host/), since the pay page's path holds
# the link token and order number and a deeper directory must match exactly (README, "微信内支付").
WECHAT_MP_APPID = os.environ.get("WECHAT_MP_APPID", "")
WECHAT_MP_SECRET_FILE = os.environ.get("WECHAT_MP_SECRET_FILE", "")
WECHAT_MP_AUTHORIZE_URL = os.environ.get("WECHAT_MP_AUTHORIZE_URL",
                                         "https://open.weixin.qq.com/connect/oauth2/authorize")
WECHAT_MP_TOKEN_URL = os.environ.get("WECHAT_MP_TOKEN_URL", "https://api.weixin.qq.com/sns/oauth2/access_token")
ALIPAY_APPID = os.environ.get("ALIPAY_APPID", "")
ALIPAY_PRIVATE_KEY_FILE = os.environ.get("ALIPAY_PRIVATE_KEY_FILE", "")
ALIPAY_PUBLIC_KEY_FILE = os.environ.get("ALIPAY_PUBLIC_KEY_FILE", "")
# The sandbox is https://openapi-sandbox.dl.alipaydev.com/gateway.do
ALIPAY_GATEWAY = os.environ.get("ALIPAY_GATEWAY", "https://openapi.alipay.com/gateway.do")
# 沙箱支付: the demo's local stand-ins for WeChat Pay and Alipay (wuye.portal.sandbox). Pages show a banner; the
# system check wuye.portal.checks refuses it unless every provider endpoint and allowed host is loopback.
WUYE_PAY_SANDBOX = envbool("WUYE_PAY_SANDBOX", False)
# Where providers send notifications and owners' links point (defaults to SITE_URL).
WUYE_PAY_NOTIFY_BASE = os.environ.get("WUYE_PAY_NOTIFY_BASE", "") or SITE_URL
WUYE_PAY_TIMEOUT_SECONDS = envint("WUYE_PAY_TIMEOUT_SECONDS", 10)
WUYE_PAY_CLOCK_SKEW_SECONDS = envint("WUYE_PAY_CLOCK_SKEW_SECONDS", 300)  # signed timestamps within ±5 min
WUYE_PAY_ORDER_TTL_MINUTES = envint("WUYE_PAY_ORDER_TTL_MINUTES", 120)
WUYE_PAY_QUERY_AFTER_MINUTES = envint("WUYE_PAY_QUERY_AFTER_MINUTES", 10)
WUYE_PAY_LINK_TTL_DAYS = envint("WUYE_PAY_LINK_TTL_DAYS", 30)
# Modules above the portal (dunning) reach it through these dotted paths, never an import.
WUYE_PAY_LINK_FACTORY = "wuye.portal.links.pay_link_for"
# keys ((unit id, party id) pairs or plain unit ids = the liable party), issued_on, created_by_label →
# {key: URL}; reminders and printed notices call it per batch (one link per unit, party and day)
WUYE_PAY_LINKS_FACTORY = "wuye.portal.links.pay_links_for"
WUYE_CONTACT_PREFERENCES = "wuye.portal.selectors.opted_out_unit_ids"
# The legal module's limitation clocks, read by lower modules through these paths (never an import): the daily
# run's 时效保全 step (as_of, within_days, project_id, unit_ids → {(unit, debtor): [period starts, ISO]}); the
# statement page (unit ids, as_of → {bill id: clock}); the collector's worklist (unit ids, as_of, within days →
# {unit: (soon, barred)}). Empty (the env var set to "") switches the 时效保全 step off.
WUYE_LIMITATION_READER = os.environ.get("WUYE_LIMITATION_READER", "wuye.legal.selectors.expiring_periods")
WUYE_LIMITATION_NOTICE_DAYS = envint("WUYE_LIMITATION_NOTICE_DAYS", 90)
WUYE_LIMITATION_CLOCKS = "wuye.legal.selectors.clocks_by_bill"
WUYE_LIMITATION_COUNTS = "wuye.legal.selectors.expiring_counts"
# Uploaded evidence (delivery proofs, the firm's issued letter): at most this many bytes each.
WUYE_LEGAL_UPLOAD_MAX_BYTES = envint("WUYE_LEGAL_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
WUYE_VISIT_PHOTO_MAX_BYTES = envint("WUYE_VISIT_PHOTO_MAX_BYTES", 10 * 1024 * 1024)
# Owner login by phone and SMS code (/p/login/): the gateway's registered template id for the code message
# (parameters: the code, its validity in minutes) and how long a login lasts.
WUYE_PORTAL_LOGIN_SMS_TEMPLATE = os.environ.get("WUYE_PORTAL_LOGIN_SMS_TEMPLATE", "")
WUYE_PORTAL_SESSION_MINUTES = envint("WUYE_PORTAL_SESSION_MINUTES", 30)
# Bank statement imports (wuye.banking): an import still "running" this many minutes after a worker claimed it
# is taken as interrupted (the worker died; its transaction rolled back) and queued again, at most
# WUYE_BANK_IMPORT_MAX_ATTEMPTS claims in all; after that it is marked failed for finance to look at.
WUYE_BANK_IMPORT_STALE_MINUTES = envint("WUYE_BANK_IMPORT_STALE_MINUTES", 30)
WUYE_BANK_IMPORT_MAX_ATTEMPTS = envint("WUYE_BANK_IMPORT_MAX_ATTEMPTS", 3)
# The estate import alike (wuye.estate.importer.imports_recover_stale): a job still 校验中/写入中 this many
# minutes after a worker claimed it is queued again, at most WUYE_IMPORT_MAX_ATTEMPTS claims, then failed with a
# message. 10,000 rows take about 10 s, so the largest file allowed (WUYE_IMPORT_MAX_ROWS) is far inside it.
# A job still 排队中 this many minutes after it was queued (its queue message lost) is queued again, at most
# WUYE_IMPORT_MAX_ATTEMPTS times, then failed with a message (decision 171).
WUYE_IMPORT_STALE_MINUTES = envint("WUYE_IMPORT_STALE_MINUTES", 30)
WUYE_IMPORT_MAX_ATTEMPTS = envint("WUYE_IMPORT_MAX_ATTEMPTS", 2)
