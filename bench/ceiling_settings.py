"""`make bench`'s settings: the production settings, with bench/ceiling.py's URLs (the production
URLs plus the token endpoint's ceiling)."""

from console.settings import *  # noqa: F403  the production settings, unchanged

ROOT_URLCONF = "bench.ceiling"
