"""Test settings: the production settings with a fast password hasher and plain static storage."""

import os

os.environ.setdefault(
    "DJANGO_SECRET_KEY", "tests-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
)
os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")
# Production requires it (DEBUG is off here too); tests that need the development behaviour
# (the request's own host) clear it with the `settings` fixture.
os.environ.setdefault("CONSOLE_ISSUER", "http://127.0.0.1:8000")

from console.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "oauthapps.hashers.ClientSecretHasher",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Tests talk plain HTTP (test client, live server on loopback).
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
