"""Settings for the Cloud Services Console.

There is one settings module; every difference between environments is an environment variable
(see the README for the full list). Defaults are safe for production: DEBUG is off unless asked.
"""

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import dj_database_url
import dj_email_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CONSOLE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool, environ: Mapping[str, str] = os.environ) -> bool:
    value = environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise ImproperlyConfigured(f"{name} must be one of true/false/1/0, not {value!r}")


def env_int(name: str, default: int, environ: Mapping[str, str] = os.environ) -> int:
    value = environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a whole number, not {value!r}"
        ) from None


def env_list(name: str, default: str = "") -> list[str]:
    return [
        item.strip()
        for item in os.environ.get(name, default).split(",")
        if item.strip()
    ]


SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def email_mailer(environ: Mapping[str, str], *, debug: bool) -> dict:
    """The default mailer: EMAIL_URL (smtp://, submission://, console://, …), else EMAIL_HOST and
    friends (SMTP), else the console backend when debugging (links in the terminal) and SMTP to
    localhost:25 in production. A slow mail server is given up on after EMAIL_TIMEOUT seconds."""

    def flag(name: str) -> bool:
        return env_bool(name, False, environ)

    if environ.get("EMAIL_URL"):
        parsed = dj_email_url.parse(environ["EMAIL_URL"])
        mailer: dict = {"BACKEND": parsed["EMAIL_BACKEND"]}
        if mailer["BACKEND"] == SMTP_BACKEND:
            mailer["OPTIONS"] = {
                "host": parsed["EMAIL_HOST"] or "localhost",
                "port": parsed["EMAIL_PORT"] or 25,
                "username": parsed["EMAIL_HOST_USER"] or "",
                "password": parsed["EMAIL_HOST_PASSWORD"] or "",
                "use_tls": parsed["EMAIL_USE_TLS"],
                "use_ssl": parsed["EMAIL_USE_SSL"],
            }
        elif parsed["EMAIL_FILE_PATH"]:
            mailer["OPTIONS"] = {"file_path": parsed["EMAIL_FILE_PATH"]}
    elif environ.get("EMAIL_HOST") or not debug:
        mailer = {
            "BACKEND": SMTP_BACKEND,
            "OPTIONS": {
                "host": environ.get("EMAIL_HOST", "localhost"),
                "port": env_int("EMAIL_PORT", 25, environ),
                "username": environ.get("EMAIL_HOST_USER", ""),
                "password": environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": flag("EMAIL_USE_TLS"),
                "use_ssl": flag("EMAIL_USE_SSL"),
            },
        }
    else:
        mailer = {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if mailer["BACKEND"] == SMTP_BACKEND:
        mailer["OPTIONS"]["timeout"] = env_int("EMAIL_TIMEOUT", 10, environ)
    return mailer


def dev_secret_key() -> str:
    """A per-checkout key for local development, generated once and kept under var/."""
    path = VAR_DIR / "dev-secret-key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off"
        )
    SECRET_KEY = dev_secret_key()

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# The public URL of the console: the `iss` of every token and the base of the URLs in the
# credentials JSON, the snippets and the OAuth metadata (console/issuer.py). Required in
# production; in development, when unset, each request's own scheme, host and port.
CONSOLE_ISSUER = os.environ.get("CONSOLE_ISSUER", "").strip().rstrip("/")
if CONSOLE_ISSUER and not CONSOLE_ISSUER.startswith(("https://", "http://")):
    raise ImproperlyConfigured(
        f"CONSOLE_ISSUER must be the console's URL, like https://console.example.com, not "
        f"{CONSOLE_ISSUER!r}"
    )
if not CONSOLE_ISSUER and not DEBUG:
    raise ImproperlyConfigured(
        "CONSOLE_ISSUER is required when DJANGO_DEBUG is off: the console's public URL, e.g. "
        "https://console.example.com (the tokens' issuer and the base of the URLs in the "
        "credentials JSON)"
    )

INSTALLED_APPS = [
    # Our accounts app first: its createsuperuser (verified address) replaces Django's.
    "console.accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "oauth2_provider",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "orgs",
    "oauthapps",
    "axes",
    "oauthapps.tokens",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.console",
            ],
        },
    },
]

# Database: one DATABASE_URL; SQLite (WAL mode) under var/ is the embedded default.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DJANGO_DB_CONN_MAX_AGE", 60),
        # Off by default: the check is a round trip before every request's first statement. The
        # token service's reads reconnect by themselves when a pooled connection broke while idle
        # (oauthapps/tokens/selectors.py); other pages answer 503 once and reconnect.
        conn_health_checks=env_bool("DJANGO_DB_CONN_HEALTH_CHECKS", False),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # Parameters bound by the server, and statements run that many times on a connection
            # prepared by psycopg: PostgreSQL then skips parsing and planning them, which costs it
            # more than running the token service's statements. 0 turns preparing off (behind
            # PgBouncer in transaction mode before 1.21, say).
            "server_side_binding": True,
            "prepare_threshold": env_int("DJANGO_DB_PREPARE_THRESHOLD", 2) or None,
        }
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Rate limits fail open when Redis is away (console/ratelimit.py): never wait long.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    # One worker's memory; room for the rate limits' counters of many clients and addresses.
    CACHES = {
        "default": {
            "BACKEND": "console.cache.LocalMemoryCache",
            "OPTIONS": {"MAX_ENTRIES": 20_000},
        }
    }

# Passwords of people use Django's default (PBKDF2). Client secrets are 128 random characters,
# so they get a fast salted SHA-256 instead: a password KDF would cost ~0.4 s per token request.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "oauthapps.hashers.ClientSecretHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The lockout check (django-axes, console/accounts/lockout.py) runs before allauth's email backend.
AUTHENTICATION_BACKENDS = [
    "console.accounts.lockout.LockoutBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

# Accounts (django-allauth, console/accounts/adapter.py): sign in with an email address, sign up with a
# verified one (mandatory verification is what lets sign-up answer the same for a taken address),
# password reset and change, one email address changed with re-verification, TOTP + recovery codes.
ACCOUNT_ADAPTER = "console.accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Cloud Services Console: "
ACCOUNT_USER_DISPLAY = "console.accounts.adapter.user_display"
# One lockout story: django-axes counts wrong passwords and wrong second-factor codes
# (console/accounts/lockout.py), so allauth's own failed-login limit is off. Its other limits stay: they
# throttle what axes does not see (emails sent, sign-ups, resets), and answer 429 with Retry-After.
ACCOUNT_RATE_LIMITS = {"login_failed": None}
# A fresh second factor for sensitive actions, and allauth's own "confirm it's you" prompts.
ACCOUNT_REAUTHENTICATION_TIMEOUT = 15 * 60
ACCOUNT_REAUTHENTICATION_METHODS = ["password", "mfa"]
MFA_ADAPTER = "console.accounts.adapter.MFAAdapter"
# Passkeys/WebAuthn need inline JSON and JavaScript on allauth's pages; our CSP and the no-JS rule
# keep them out. TOTP (any authenticator app) with single-use recovery codes.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Cloud Services Console"
# Accept the code of the 30-second step before or after the current one (phones' clocks drift).
MFA_TOTP_TOLERANCE = 1
MFA_FORMS = {
    "authenticate": "console.accounts.forms.AuthenticateForm",
    "reauthenticate": "console.accounts.forms.ReauthenticateForm",
}
# How long an invitation link works.
CONSOLE_INVITATION_DAYS = env_int("CONSOLE_INVITATION_DAYS", 7)

# Email through Django's mailers (see email_mailer above); DEFAULT_FROM_EMAIL signs every message.
MAILERS = {"default": email_mailer(os.environ, debug=DEBUG)}
DEFAULT_FROM_EMAIL = os.environ.get(
    "DEFAULT_FROM_EMAIL", "Cloud Services Console <console@localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# django-oauth-toolkit: our app model from the very first migration; secrets hashed fast.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauthapps.OAuthApp"
OAUTH2_PROVIDER = {
    "CLIENT_SECRET_HASHER": "console_secret_sha256",
    "ALLOWED_GRANT_TYPES": ["client_credentials"],
    # RFC 9700 (OAuth 2.0 Security BCP): adopt every compliant behaviour the toolkit offers, so
    # `check --deploy` stays clean and a later insecure setting is an error, not a warning.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    # The token service (oauthapps/tokens): only client credentials, our validator (scopes, org
    # context, the IssuedToken row), and RS256 JWT access tokens with the app's own lifetime.
    "OAUTH2_SERVER_CLASS": "oauthapps.tokens.server.ClientCredentialsServer",
    "OAUTH2_VALIDATOR_CLASS": "oauthapps.tokens.validator.ConsoleOAuth2Validator",
    "OAUTH2_BACKEND_CLASS": "oauthapps.tokens.server.ConsoleOAuthLibCore",
    "ACCESS_TOKEN_GENERATOR": "oauthapps.tokens.access_tokens.generate",
}

# The algorithm that signs access tokens: RS256 (RSA 2048, the default), ES256 (ECDSA P-256) or
# EdDSA (Ed25519). Changing it makes a key of the new kind current; the older keys stay in the
# JWKS until the tokens they signed have expired.
CONSOLE_TOKEN_SIGNING_ALG = os.environ.get("CONSOLE_TOKEN_SIGNING_ALG", "RS256")
if CONSOLE_TOKEN_SIGNING_ALG not in ("RS256", "ES256", "EdDSA"):
    raise ImproperlyConfigured(
        f"CONSOLE_TOKEN_SIGNING_ALG must be RS256, ES256 or EdDSA, not {CONSOLE_TOKEN_SIGNING_ALG!r}."
    )
# The key that signs access tokens. Production: a private key (PEM) of that algorithm in
# CONSOLE_SIGNING_KEY_PEM, or in the file CONSOLE_SIGNING_KEY_FILE names (a mounted secret).
# Unset: the console generates one and keeps it in the database (the embedded default), and
# `manage.py rotate_signing_key` rotates it.
CONSOLE_SIGNING_KEY_PEM = os.environ.get("CONSOLE_SIGNING_KEY_PEM", "").replace(
    "\\n", "\n"
)
if not CONSOLE_SIGNING_KEY_PEM and os.environ.get("CONSOLE_SIGNING_KEY_FILE"):
    CONSOLE_SIGNING_KEY_PEM = Path(os.environ["CONSOLE_SIGNING_KEY_FILE"]).read_text()

# Security: CSP with no inline scripts or styles, and production hardening when DEBUG is off.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Pages carry the CSRF token (forms, hx-headers on <body>): no script needs to read the cookie.
CSRF_COOKIE_HTTPONLY = True
if env_bool("DJANGO_SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)

# Rate limits of the token, introspection and revocation endpoints (console/ratelimit.py):
# requests per window of seconds, shared through the cache (Redis with REDIS_URL); 0 turns one off.
CONSOLE_TOKEN_RATE_PER_CLIENT = env_int("CONSOLE_TOKEN_RATE_PER_CLIENT", 600)
CONSOLE_TOKEN_RATE_PER_IP = env_int("CONSOLE_TOKEN_RATE_PER_IP", 1200)
CONSOLE_TOKEN_RATE_WINDOW = env_int("CONSOLE_TOKEN_RATE_WINDOW", 60)
CONSOLE_TOKEN_FAIL_RATE_PER_IP = env_int("CONSOLE_TOKEN_FAIL_RATE_PER_IP", 20)
CONSOLE_TOKEN_FAIL_WINDOW = env_int("CONSOLE_TOKEN_FAIL_WINDOW", 300)
# With the cache down, rate limits are off (fail open); it is tried again after this many seconds.
CONSOLE_RATELIMIT_RETRY_SECONDS = env_int("CONSOLE_RATELIMIT_RETRY_SECONDS", 5)
# How many proxies of ours append to X-Forwarded-For in front of the console (0: none, use the
# peer address). Rate limits and the sign-in lockout count per client address.
CONSOLE_TRUSTED_PROXY_COUNT = env_int("CONSOLE_TRUSTED_PROXY_COUNT", 0)

# Sign-in lockout (django-axes, console/accounts/lockout.py): after this many failed sign-ins (wrong
# password or wrong second-factor code) for one email address from one client address, that pair
# is locked for this many minutes.
CONSOLE_SIGNIN_FAILURE_LIMIT = env_int("CONSOLE_SIGNIN_FAILURE_LIMIT", 5)
CONSOLE_SIGNIN_LOCKOUT_MINUTES = env_int("CONSOLE_SIGNIN_LOCKOUT_MINUTES", 15)
AXES_ENABLED = CONSOLE_SIGNIN_FAILURE_LIMIT > 0
AXES_FAILURE_LIMIT = max(CONSOLE_SIGNIN_FAILURE_LIMIT, 1)
AXES_COOLOFF_TIME = timedelta(minutes=CONSOLE_SIGNIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "console.accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "console.http.client_address"
AXES_USERNAME_CALLABLE = "console.accounts.lockout.username"
AXES_SENSITIVE_PARAMETERS = ["password", "csrfmiddlewaretoken"]

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO"),
    },
    "loggers": {
        # oauthlib logs request bodies (client secrets included) at DEBUG: never let them through.
        "oauthlib": {"level": "WARNING"},
        "oauth2_provider": {"level": "WARNING"},
    },
}
