from tests.tokens.fixtures import (  # noqa: F401
    api_client,
    catalog,
    contains,
    fresh_key_cache,
    make_app,
    make_key_app,
)
