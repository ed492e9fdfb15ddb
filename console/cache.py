"""The cache of a single-instance deployment (no REDIS_URL): Django's local-memory cache, without
its check of every key against memcached's rules.

That check (a warning for keys memcached would refuse: too long, control characters) serves code
that may move to memcached; this console runs on Redis or on local memory, and its keys are safe
as built (the rate limits hash the client IDs they count). It costs about 5 µs per key, and the
rate limits of one token request touch eight. Django's documentation on cache key warnings
suggests this very subclass.
"""

from django.core.cache.backends.locmem import LocMemCache


class LocalMemoryCache(LocMemCache):
    def validate_key(self, key: str) -> None:
        """No memcached key warnings (see above)."""
