"""Keel settings. Everything that differs between machines comes from the environment.

Unset variables fall back to the embedded quick-start mode: a SQLite file and Celery tasks run
eagerly in-process, so the demo needs no server. CI and production set DATABASE_URL and REDIS_URL.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# A fresh random key per process is safe for the local demo (sessions just don't survive restarts);
# production must provide SECRET_KEY, which mlops.settings_production enforces.
SECRET_KEY = os.environ.get("SECRET_KEY") or get_random_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

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
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "mlops",
    "registry",
    "audits",
    "support",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mlops.middleware.LoginRequiredMiddleware",
    # Turns a sign-in refused by the lock (see AXES_* below) into the lock page; stays last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mlops.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "mlops.wsgi.application"
# WSGI middleware mlops.wsgi wraps Django in, outermost first: serving-list polls are answered
# from the cache before Django when they can be.
KEEL_WSGI_MIDDLEWARE = ["support.lists.wsgi.ServingListsWSGI"]

if not os.environ.get("DATABASE_URL"):
    (BASE_DIR / "var").mkdir(exist_ok=True)  # home of the quick-start SQLite file and media
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'var' / 'keel.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The quick start's SQLite file takes concurrent writes (API calls, in-process tasks) without
    # "database is locked": readers never block the writer (WAL), a write transaction takes the lock
    # when it begins (so it never fails half-way on upgrading a read lock), and waits up to
    # KEEL_SQLITE_TIMEOUT_SECONDS for it.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            "timeout": float(os.environ.get("KEEL_SQLITE_TIMEOUT_SECONDS", "20")),
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in throttling (django-axes, mlops.logins): failed sign-ins are counted per account and per
# address, in the database (shared by every worker, SQLite or PostgreSQL). KEEL_LOGIN_FAILURE_LIMIT
# failures lock that account (from any address) and that address (for any account) for
# KEEL_LOGIN_COOLOFF_MINUTES after the latest failure. A successful sign-in resets no counter, so an
# attacker's own account cannot clear its address. API tokens never pass through here.
AUTHENTICATION_BACKENDS = [
    "mlops.logins.KeelAxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = int(os.environ.get("KEEL_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("KEEL_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "mlops.logins.lockout_response"
AXES_CLIENT_IP_CALLABLE = "mlops.logins.client_ip"
AXES_VERBOSE = False  # no start-up banner on every manage.py command; lockouts are still logged
# Reverse proxies in front of Keel that append the client's address to X-Forwarded-For; 0 counts
# failures against REMOTE_ADDR.
KEEL_TRUSTED_PROXY_COUNT = int(os.environ.get("KEEL_TRUSTED_PROXY_COUNT", "0"))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "registry:model-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "var" / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Artifacts and uploaded data live under MEDIA_ROOT; they are served only through
# authenticated views, never as public static files.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
MEDIA_URL = "/media/"

# Upload limits: artifacts stream to disk, so the cap protects the disk rather than memory.
KEEL_MAX_ARTIFACT_BYTES = int(os.environ.get("KEEL_MAX_ARTIFACT_BYTES", str(512 * 1024 * 1024)))
KEEL_MAX_HOLDOUT_BYTES = int(os.environ.get("KEEL_MAX_HOLDOUT_BYTES", str(2 * 1024 * 1024 * 1024)))
# A hold-out is read whole by the gate, so its rows and its uncompressed size (Parquet compresses a
# constant column to almost nothing) are limited too, before any data is read.
KEEL_MAX_HOLDOUT_ROWS = int(os.environ.get("KEEL_MAX_HOLDOUT_ROWS", "2000000"))
KEEL_MAX_HOLDOUT_UNCOMPRESSED_BYTES = int(
    os.environ.get("KEEL_MAX_HOLDOUT_UNCOMPRESSED_BYTES", str(2 * 1024 * 1024 * 1024))
)
# Classes a skops artifact may build beyond skops' defaults and scikit-learn/numpy/scipy classes: the
# deployer's own transformers, by exact class path or module prefix (mlops.modelformats).
KEEL_TRUSTED_ARTIFACT_TYPES = env_list("KEEL_TRUSTED_ARTIFACT_TYPES", "")
# Data that stays where it is (hold-outs, later audit batches) is read only from below this folder.
KEEL_DATA_ROOT = Path(os.environ.get("KEEL_DATA_ROOT", BASE_DIR / "var" / "data"))
# Rows an audit holds in memory at once; memory stays flat however large the file.
KEEL_AUDIT_CHUNK_ROWS = int(os.environ.get("KEEL_AUDIT_CHUNK_ROWS", "200000"))
# Files with more rows are profiled in partitions of this size by several workers at once (a chord).
KEEL_AUDIT_PARTITION_ROWS = int(os.environ.get("KEEL_AUDIT_PARTITION_ROWS", "2000000"))
# A numeric column with at most this many values (per side) is compared exactly (KS, Wasserstein on
# its values); above it, on the reference's 1,000 bins with a stated bound. Costs 8 bytes a value
# per column in memory while a batch is compared, and a compressed file beside each reference.
KEEL_EXACT_DRIFT_MAX_VALUES = int(os.environ.get("KEEL_EXACT_DRIFT_MAX_VALUES", "300000"))
# Most columns a data file's header may name (audits and hold-outs); more is refused before parsing.
KEEL_MAX_COLUMNS = int(os.environ.get("KEEL_MAX_COLUMNS", "2000"))
# Most characters a text cell keeps when a data file is read; longer ones are cut (audits say so,
# the gate refuses a column it reads that had cells cut).
KEEL_MAX_CELL_CHARS = int(os.environ.get("KEEL_MAX_CELL_CHARS", "10000"))
KEEL_MAX_BATCH_BYTES = int(os.environ.get("KEEL_MAX_BATCH_BYTES", str(5 * 1024 * 1024 * 1024)))
# Senders may sign batches with HMAC-SHA256 under this shared key; unset, signatures are not checked.
KEEL_BATCH_HMAC_KEY = os.environ.get("KEEL_BATCH_HMAC_KEY", "")
# The isolated scorer (mlops.sandbox) that loads and runs model artifacts: its address space, its CPU
# seconds in all, and the wall-clock seconds of each request (loading, scoring, explaining).
KEEL_SCORER_MEMORY_BYTES = int(os.environ.get("KEEL_SCORER_MEMORY_BYTES", str(2 * 1024 * 1024 * 1024)))
KEEL_SCORER_CPU_SECONDS = int(os.environ.get("KEEL_SCORER_CPU_SECONDS", "600"))
KEEL_SCORER_WALL_SECONDS = float(os.environ.get("KEEL_SCORER_WALL_SECONDS", "300"))
# Serving logs arrive in bulk; one request holds at most this many predictions (all or nothing).
KEEL_MAX_PREDICTIONS_PER_REQUEST = int(os.environ.get("KEEL_MAX_PREDICTIONS_PER_REQUEST", "10000"))
# A labeller holds a relabelling item this long; unanswered by then, it returns to the queue.
KEEL_RELABEL_ASSIGNMENT_MINUTES = int(os.environ.get("KEEL_RELABEL_ASSIGNMENT_MINUTES", "10"))
# Answers arriving within this many seconds of each other recompute a campaign's estimate once.
KEEL_RELABEL_ESTIMATE_DEBOUNCE_SECONDS = int(os.environ.get("KEEL_RELABEL_ESTIMATE_DEBOUNCE_SECONDS", "30"))
# Support lists (support/): blacklists, boosts and privacy requests, and the lists serving systems poll.
KEEL_SUPPORT_ENTITY_TYPES = env_list("KEEL_SUPPORT_ENTITY_TYPES", "customer,product")
# The entity type a privacy request is about (a person).
KEEL_SUPPORT_PRIVACY_ENTITY_TYPE = os.environ.get("KEEL_SUPPORT_PRIVACY_ENTITY_TYPE", "customer")
# The support and explanation limits, each read from the environment variable of its name; the
# default's type (int or float) is the setting's type.
SUPPORT_LIMIT_DEFAULTS = {
    # Boosts are temporary: a weight in this range, for at most this many days.
    "KEEL_SUPPORT_BOOST_MIN_WEIGHT": 0.1,
    "KEEL_SUPPORT_BOOST_MAX_WEIGHT": 10.0,
    "KEEL_SUPPORT_BOOST_MAX_DAYS": 30,
    # Each agent may make this many changes (a bulk upload counts as one) per window of seconds.
    "KEEL_SUPPORT_RATE_LIMIT_CHANGES": 60,
    "KEEL_SUPPORT_RATE_LIMIT_SECONDS": 600,
    # Bulk CSV uploads: size and row limits, how long a preview may be confirmed, and above how many
    # new blacklisted IDs the agent must type the count to confirm.
    "KEEL_SUPPORT_BULK_MAX_BYTES": 2 * 1024 * 1024,
    "KEEL_SUPPORT_BULK_MAX_ROWS": 20000,
    "KEEL_SUPPORT_BULK_PREVIEW_SECONDS": 1800,
    "KEEL_SUPPORT_BULK_CONFIRM_THRESHOLD": 100,
    # Serving lists are cached (invalidated on every change, rebuilt at the next expiry); this bounds
    # how long a cached copy may live at all. A reader's token and permissions are cached this long.
    "KEEL_SUPPORT_LISTS_CACHE_SECONDS": 300,
    "KEEL_SUPPORT_LISTS_AUTH_CACHE_SECONDS": 30,
    # Explainer backgrounds (the sample a model-agnostic SHAP explainer compares against), per version.
    "KEEL_EXPLAIN_MAX_BACKGROUND_ROWS": 1000,
    "KEEL_EXPLAIN_MAX_BACKGROUND_BYTES": 2 * 1024 * 1024,
}
for _name, _default in SUPPORT_LIMIT_DEFAULTS.items():
    globals()[_name] = type(_default)(os.environ.get(_name, _default))
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
# Without a broker the quick start runs tasks in-process; with Redis, a real worker runs them.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged only after it finishes, so a killed worker's task is redelivered.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# How long Redis keeps an unacknowledged task before handing it to another worker: the longest a
# killed worker's audit waits to be redelivered. Must exceed the longest job.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("KEEL_BROKER_VISIBILITY_TIMEOUT", "3600"))}
# How often (seconds) an idle worker looks for tasks past the visibility timeout and hands them out
# again. Unset, kombu's default: a look every tenth 10-second tick, so about every 100 s; set it when
# the visibility timeout is short, or a killed worker's task waits for the sweep rather than the timeout.
if os.environ.get("KEEL_BROKER_RESTORE_SECONDS"):
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "unacked_restore_interval": int(os.environ["KEEL_BROKER_RESTORE_SECONDS"]),
        "unacked_restore_throttle": 1,
    }
# Every task's soft time limit by kind of job (seconds); its hard limit is the soft one plus the
# grace, after which the worker process running it is ended (mlops.jobs). The hard limits must stay
# below the visibility timeout, or Redis hands a task still running to a second worker.
KEEL_TASK_TIME_LIMITS = {
    kind: int(os.environ.get(f"KEEL_{kind.upper()}_TIME_LIMIT", str(default)))
    for kind, default in {
        "gate": 30 * 60,
        "audit": 30 * 60,
        "explanation": 5 * 60,
        "erasure": 30 * 60,
        "notification": 2 * 60,
        "sweep": 5 * 60,
    }.items()
}
KEEL_TASK_TIME_LIMIT_GRACE = int(os.environ.get("KEEL_TASK_TIME_LIMIT_GRACE", "60"))
# A job whose worker died this many times while running it (killed, out of memory, past its hard
# limit) ends failed with that reason at its next delivery, instead of running again.
KEEL_TASK_MAX_WORKER_DEATHS = int(os.environ.get("KEEL_TASK_MAX_WORKER_DEATHS", "2"))
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Notifications (registry.services.notifications). Mail goes to the console unless EMAIL_BACKEND says
# otherwise (tests swap in Django's locmem outbox). Every network wait is bounded so a stuck SMTP or
# webhook receiver can only delay its own delivery, never hold a worker indefinitely.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "keel@localhost")
# Where Keel is reached from outside: relative links in notifications ("/promotions/7/") are made
# absolute with it, since an email or a chat message has no page to be relative to.
KEEL_BASE_URL = os.environ.get("KEEL_BASE_URL", "http://localhost:8000")
KEEL_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("KEEL_WEBHOOK_TIMEOUT_SECONDS", "5"))
KEEL_NOTIFY_MAX_ATTEMPTS = int(os.environ.get("KEEL_NOTIFY_MAX_ATTEMPTS", "6"))
# Run by `celery -A mlops beat`: deliveries recorded while the broker was down go out within a minute.
CELERY_BEAT_SCHEDULE = {
    "requeue-pending-deliveries": {"task": "registry.tasks.requeue_pending_deliveries", "schedule": 60.0},
    "requeue-stalled-gates": {"task": "registry.tasks.requeue_stalled_gates", "schedule": 300.0},
    "requeue-stalled-audits": {"task": "audits.tasks.requeue_stalled_audits", "schedule": 300.0},
    "requeue-pending-erasures": {"task": "support.tasks.requeue_pending_erasures", "schedule": 300.0},
    "release-expired-relabel-assignments": {
        "task": "audits.tasks.release_expired_relabel_assignments",
        "schedule": 300.0,
    },
}
# Beat reads schedules from the database, so reviewers add audit schedules in Keel (or the admin)
# without a deploy; the fixed sweeps above are synced into the same tables at beat start.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["mlops.roles.IsKeelMember"],
    "DEFAULT_PARSER_CLASSES": [
        "mlops.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "mlops.pagination.KeelPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "mlops.openapi.KeelAutoSchema",
    "EXCEPTION_HANDLER": "mlops.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Keel API",
    "DESCRIPTION": "Governance for production machine-learning models: registry, promotion, audits, support.",
    "VERSION": "1.0.0",
    # OpenAPI 3.1 is JSON Schema: `propertyNames` bounds the names of tags, `type: "null"` says null.
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "mlops.openapi.json_schema_nulls"],
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["mlops.roles.IsKeelMember"],  # like every API read: a Keel role, not just an account
    "COMPONENT_SPLIT_REQUEST": True,
    # API views validate a PATCH body with its serializer as declared (required fields stay required).
    "COMPONENT_SPLIT_PATCH": False,
    # Swagger UI is served from the installed sidecar package: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "state", "status" or "format" field; name each choice set once.
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "registry.models.RunStatus",
        "PromotionStateEnum": "registry.models.PromotionState",
        "HoldoutFormatEnum": "registry.models.HoldoutFormat",
        "DataFormatEnum": "audits.models.DataFormat",
        "AuditStateEnum": "audits.models.AuditState",
        "AlertStateEnum": "audits.models.AlertState",
        "CampaignStateEnum": "audits.models.CampaignState",
        "VerdictEnum": "audits.models.Verdict",
        "FindingStatusEnum": "audits.models.FindingStatus",
        "AuditKindEnum": "audits.models.AuditKind",
        "ScheduleSourceEnum": "audits.models.ScheduleSource",
        "ActionEnum": "registry.models.PromotionAction",  # keeps its name beside the schedules' actions
        "ScheduleActionEnum": "audits.models.ScheduleAction",
        "EntryKindEnum": "support.models.EntryKind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
