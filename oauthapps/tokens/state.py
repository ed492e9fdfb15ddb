"""Per-process memory of hot-path reads, exact on every instance through the token state version.

The token endpoint needs the app, its grants and its organizations' services; the API needs to
know whether a token is still good. Both change rarely and are read on every request, so each
process keeps its last answer per key, tagged with the token state version it was read at
(models.TokenStateVersion, moved by database triggers in the same transaction as any change that
matters). Each request still makes one statement that confirms the answer: the token endpoint's
INSERT only writes while the version is unchanged (services.issued_token_record), and the API's
read, `versioned()`, always returns the current version and the data rows only when that version
differs from the remembered answer's. A process therefore uses an answer only while no relevant
change has been committed anywhere; the first request after a change reads the new state.

Inside a transaction (`atomic`), nothing is reused or remembered: the triggers on PostgreSQL move
the version only at commit, so within a transaction the version cannot vouch for its own changes.

One memory here needs no version: `verified_tokens`, the access tokens this process has verified
(base64, JSON, signature: what depends only on the token's bytes and the key); what can change is
checked on every use (access_tokens.verify).
"""

import threading
from collections import OrderedDict
from collections.abc import Hashable

from django.db import connection

from oauthapps.tokens.models import TokenStateVersion

# Never a version (versions are >= 0; 0 is "no row yet"): forces the data rows.
UNKNOWN = -1
DATA_ROW, VERSION_ROW = 1, 0


def version_sql() -> str:
    table = connection.ops.quote_name(TokenStateVersion._meta.db_table)
    return f"COALESCE((SELECT version FROM {table} WHERE id = 1), 0)"


def versioned(columns: str, from_where: str) -> str:
    """`SELECT columns from_where` (columns: their SQL list, "a, b"), gated by the version.

    Every row starts with (version, kind): one VERSION_ROW always, plus the query's rows as
    DATA_ROWs only if the version differs from the last parameter (the cached answer's version,
    or UNKNOWN). `from_where` must end with a WHERE clause. The version is read twice in one
    statement, so from one snapshot.
    """
    version = version_sql()
    nulls = ", ".join("NULL" for _ in columns.split(","))
    return (
        f"SELECT {version}, {VERSION_ROW}, {nulls} "
        f"UNION ALL SELECT {version}, {DATA_ROW}, {columns} {from_where} "
        f"AND {version} <> %s"
    )


def split(rows: list[tuple]) -> tuple[int, list[tuple]]:
    """(version, data rows without the two leading columns) of a `versioned()` result."""
    version = next(row[0] for row in rows if row[1] == VERSION_ROW)
    return int(version), [row[2:] for row in rows if row[1] == DATA_ROW]


class Memory:
    """A bounded, thread-safe map, least recently used dropped first: at most `max_entries`
    entries whose sizes (as the caller measures them) add up to at most `max_size`. With
    `versioned`, nothing is reused or remembered inside a transaction (see above)."""

    def __init__(
        self, max_entries: int, max_size: int | None = None, *, versioned: bool = True
    ) -> None:
        self.max_entries = max_entries
        self.max_size = max_size if max_size is not None else max_entries
        self.versioned = versioned
        self.size = 0
        self._entries: OrderedDict[Hashable, tuple[int, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        if self.versioned and connection.in_atomic_block:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, value: object, *, size: int = 1) -> None:
        if size > self.max_size or (self.versioned and connection.in_atomic_block):
            return
        with self._lock:
            self.size -= self._entries.pop(key, (0, None))[0]
            self._entries[key] = (size, value)
            self.size += size
            while len(self._entries) > self.max_entries or self.size > self.max_size:
                self.size -= self._entries.popitem(last=False)[1][0]

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self.size -= self._entries.pop(key, (0, None))[0]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.size = 0

    def __len__(self) -> int:
        return len(self._entries)


# Apps with their grants, by (client_id, orgId): a few hundred bytes each.
apps = Memory(max_entries=2_000)
# Whether an issued token is still good, by jti: one per token in use (about 2 KB each). Clients
# reuse a token until it expires, so the tokens in use by the clients a worker serves fit easily;
# a bigger memory only grows the worker (`make soak` watches its size).
tokens = Memory(max_entries=4_096)
# Access tokens whose signature and claims this process has checked (access_tokens.verify), by
# the token itself; sized by the token's length (about 1 KB each, as much again for its claims).
verified_tokens = Memory(2_048, 4 * 1024 * 1024, versioned=False)


def clear() -> None:
    """Forget every remembered answer (tests; never needed for correctness)."""
    for memory in (apps, tokens, verified_tokens):
        memory.clear()
