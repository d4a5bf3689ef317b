"""Settings of the order execution engine; every value comes from the environment."""

from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# --- core -------------------------------------------------------------------------------------

# Production is the default: debug pages and a made-up key have to be asked for. `make run`
# and the tests set DEBUG and a SECRET_KEY of their own.
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set (a long random string, kept out of the repository).")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "orders",
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
]

ROOT_URLCONF = "engine.urls"
ASGI_APPLICATION = "engine.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- security ---------------------------------------------------------------------------------

# Behind a TLS-terminating proxy, which says so in X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Orchestrators probe health over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Browsers' WebSocket origins allowed besides the engine's own hosts; clients that send no Origin
# (bots, scripts) are not browsers and are let through to authenticate.
WEBSOCKET_ALLOWED_ORIGINS = env.list("WEBSOCKET_ALLOWED_ORIGINS", default=[])
# Order requests are a few hundred bytes; anything far larger is refused before it is parsed.
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=16 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(REQUEST_BODY_MAX_BYTES, 2_621_440)
# Threads per web process that run HTTP requests (engine/http.py). A request holds one while it waits
# on PostgreSQL or Redis, so there are more than CPUs, but few: more requests at once only contend
# for the process's GIL. Route previews wait on the venues, on WEB_VENUE_THREADS threads of their
# own. DB_POOL_SIZE connections are shared among them all and the WebSocket consumers.
WEB_THREADS = env.int("WEB_THREADS", default=8)
WEB_VENUE_THREADS = env.int("WEB_VENUE_THREADS", default=24)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=None)
# Admin and API docs assets are served by the app itself, straight from the installed packages.
WHITENOISE_USE_FINDERS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# JSON lines with the order id on every line about an order; LOG_FORMAT=plain for people.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"order": {"()": "engine.logs.OrderContext"}},
    "formatters": {
        "json": {"()": "engine.logs.JsonFormatter"},
        "plain": {"()": "engine.logs.PlainFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env.str("LOG_FORMAT", default="json"),
            "filters": ["order"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The worker's start-up lines, whatever LOG_LEVEL says: `make run` waits for its "ready." line.
    "loggers": {"celery.apps.worker": {"level": "INFO"}},
}

# --- database ---------------------------------------------------------------------------------

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:54320/engine"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Connections one process keeps open and lends out; 0 for none. A connection belongs to its thread,
# and the web process runs requests and WebSocket look-ups on many threads, so without a pool each
# would keep a connection of its own or connect anew (and PostgreSQL fork a backend for it). A lent
# connection is checked first (CONN_HEALTH_CHECKS), so one broken by a database restart is replaced,
# not handed to a request.
DB_POOL_SIZE = env.int("DB_POOL_SIZE", default=20)
if DB_POOL_SIZE:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # a pooled connection goes back to the pool instead
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": DB_POOL_SIZE}
# The statements every order runs are prepared on their first run on a connection (orders/prepared.py);
# Django's own queries bind on the client and are never prepared. Off behind a pooler in transaction
# mode, which does not keep a prepared statement on the connection that made it.
if env.bool("DB_PREPARED_STATEMENTS", default=True):
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 0

# --- redis, celery ----------------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:63790/0")

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# At-least-once delivery: a task is acknowledged only once it has finished, and a worker that
# dies mid-task hands the message back. The state machine refuses a repeated move, so a
# re-delivered order cannot repeat a step.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CONCURRENCY = env.int("WORKER_CONCURRENCY", default=10)
# Celery's Django fixup closes the database connection before and after every task unless told to
# keep it; then it recycles it every this many tasks, and engine/celery.py checks it per task as
# Django does per request.
CELERY_DB_REUSE_MAX = env.int("WORKER_DB_REUSE_MAX", default=1000)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("BROKER_VISIBILITY_TIMEOUT", 3600)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Seconds between two checks of waiting orders (limit prices reached, launches due, expiries).
ORDER_TRIGGER_INTERVAL = env.float("ORDER_TRIGGER_INTERVAL", default=1.0)
# A task runs one attempt of one order (seconds); the limits only stop one that hangs.
ORDER_TASK_SOFT_TIME_LIMIT = env.int("ORDER_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_BEAT_SCHEDULE = {
    "recover-stalled-orders": {
        "task": "orders.recover_stalled",
        "schedule": env.float("ORDER_RECOVERY_INTERVAL", default=5.0),
    },
    "trigger-waiting-orders": {"task": "orders.trigger_waiting", "schedule": ORDER_TRIGGER_INTERVAL},
    "purge-idempotency-keys": {"task": "orders.purge_idempotency_keys", "schedule": 3600.0},
}
# Flower reads task events; they cost one small message per task state.
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True

# Shared by every web process, so a throttle counts an account's requests wherever they land.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": "cache",
    },
}

# --- channels ---------------------------------------------------------------------------------

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py refuses a connection past its pool's size (100 by default) instead of
            # waiting for one: many subscribers reconnecting at once need more.
            "hosts": [
                {
                    "address": env.str("CHANNEL_LAYER_URL", default=REDIS_URL),
                    "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=2000),
                    # A subscriber waits for its next message with a blocking pop of 5 s on Redis;
                    # redis-py's own read timeout is 5 s too by default, so a reply a moment late
                    # raised a timeout that closed the subscriber's socket (1011).
                    "socket_timeout": 15,
                }
            ],
            # Live delivery is best effort: a slow subscriber's backlog is capped and old messages
            # expire. Nothing is lost by it: the stream fills any gap from the database.
            "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=1000),
            "expiry": env.int("CHANNEL_LAYER_EXPIRY", default=30),
        },
    },
}

# The stream is one-way: a client may send a few stray messages (a keep-alive, a mistaken
# subscribe), which are ignored, but more than the budget within the window closes its socket
# with 4429 and one message over the size closes it with 4413. Larger abuse never reaches the
# consumer: daphne drops a connection on a text message that is not UTF-8 or on a message over
# its --websocket-max-message-size (1 MiB), before buffering it.
WEBSOCKET_CLIENT_MESSAGE_BUDGET = env.int("WEBSOCKET_CLIENT_MESSAGE_BUDGET", default=20)
WEBSOCKET_CLIENT_MESSAGE_WINDOW = env.float("WEBSOCKET_CLIENT_MESSAGE_WINDOW", default=10.0)
WEBSOCKET_CLIENT_MESSAGE_MAX_BYTES = env.int("WEBSOCKET_CLIENT_MESSAGE_MAX_BYTES", default=4096)
# Every this many seconds each web process reads the latest seq of its subscribers' orders, and a
# subscriber still behind a seq read one check before reads the events it missed from the database:
# an event the channel layer lost is otherwise only noticed at the order's next one, and a final
# event has none. One query per web process and period, whatever the number of subscribers.
ORDER_STREAM_CHECK_SECONDS = env.float("ORDER_STREAM_CHECK_SECONDS", default=10.0)

# --- rest framework ---------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": ["orders.parsers.DecimalJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": ["orders.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["orders.throttles.ScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "orders.place": env.str("THROTTLE_PLACE_RATE", default="600/min"),
        "orders.read": env.str("THROTTLE_READ_RATE", default="1200/min"),
    },
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "orders.exceptions.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Order execution engine",
    "DESCRIPTION": "Market orders on Solana DEXs, routed to the best of Raydium and Meteora.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {"TokenSymbol": "dex.tokens.SYMBOLS"},
    # The docs UI works offline: its assets come from a package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- orders -----------------------------------------------------------------------------------

ORDER_MAX_AMOUNT = Decimal(env.str("ORDER_MAX_AMOUNT", default="1000000000"))
# A limit order waits this long unless it says otherwise, and never longer than the maximum.
ORDER_LIMIT_DEFAULT_SECONDS = env.int("ORDER_LIMIT_DEFAULT_SECONDS", default=3600)
ORDER_LIMIT_MAX_SECONDS = env.int("ORDER_LIMIT_MAX_SECONDS", default=7 * 24 * 3600)
# Orders of one account not yet confirmed or failed; one more is refused with 429.
ORDER_MAX_OPEN_PER_ACCOUNT = env.int("ORDER_MAX_OPEN_PER_ACCOUNT", default=100)
# Three attempts in all; the second starts 0.5 s after the first fails, the third 1 s after that.
ORDER_MAX_ATTEMPTS = env.int("ORDER_MAX_ATTEMPTS", default=3)
ORDER_RETRY_BACKOFF = env.float("ORDER_RETRY_BACKOFF", default=0.5)
# An unfinished order that nothing has moved for this long is re-driven by the recovery job
# (beat, every ORDER_RECOVERY_INTERVAL seconds). Longer than any one step, including the wait in
# a busy queue, so a healthy order is rarely queued twice (which would be harmless anyway).
ORDER_STALL_SECONDS = env.float("ORDER_STALL_SECONDS", default=60.0)
# A retry with the same Idempotency-Key gets the first answer for at least this long.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# A request holding its key longer than this is taken to have died, and a retry takes the key over.
IDEMPOTENCY_IN_FLIGHT_SECONDS = env.int("IDEMPOTENCY_IN_FLIGHT_SECONDS", default=60)

# --- dex --------------------------------------------------------------------------------------

# 1.0 runs the seed's latencies (200 ms a quote, 2-3 s a swap); 0 runs the venues instantly.
DEX_LATENCY_SCALE = env.float("DEX_LATENCY_SCALE", default=1.0)
# Share of venue calls that fail before doing anything (a transient error, retried).
DEX_FAILURE_RATE = env.float("DEX_FAILURE_RATE", default=0.0)
# Share of swaps that land on chain but whose answer is lost on the way back.
DEX_LOST_RESPONSE_RATE = env.float("DEX_LOST_RESPONSE_RATE", default=0.0)
# An integer makes every quote, price and failure reproducible; empty draws fresh randomness.
DEX_SEED = env.int("DEX_SEED", default=None) if env.str("DEX_SEED", default="") else None
# Seconds a venue honours a quote; an older one is never executed, the engine quotes again.
DEX_QUOTE_TTL = env.float("DEX_QUOTE_TTL", default=30.0)
# How the price moves between quote and execution, as a share of the amount out: the mean
# (negative: against the trader) and the spread for a small trade, which grows with trade size.
DEX_EXECUTION_DRIFT = env.float("DEX_EXECUTION_DRIFT", default=0.0)
DEX_EXECUTION_VOLATILITY = env.float("DEX_EXECUTION_VOLATILITY", default=0.001)
# Seconds per step of the market's random walk (every price moves within its band): the speed.
DEX_MARKET_STEP = env.float("DEX_MARKET_STEP", default=2.0)
# Seconds for a pool's price to recover 63% of the way back to the market after a swap moved it.
DEX_POOL_RECOVERY = env.float("DEX_POOL_RECOVERY", default=30.0)
# Seconds a signed transaction stays valid (its blockhash); empty: twice the slowest swap.
DEX_TX_VALIDITY = env.float("DEX_TX_VALIDITY", default=None) if env.str("DEX_TX_VALIDITY", default="") else None
# The simulated chain keeps its transactions here so every worker process sees the same ledger.
DEX_LEDGER_URL = env.str("DEX_LEDGER_URL", default=REDIS_URL)
