"""Which failures are the database's passing state, not the fault of what was being written."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# SQLSTATE classes a retry outlives: 08 connection exception, 40 transaction rollback
# (serialization failure, deadlock), 53 insufficient resources (too many connections, disk
# full), 57 operator intervention (admin shutdown, "the database system is starting up"),
# 58 system error (I/O). asyncpg's errors reach SQLAlchemy as plain DBAPIError with the code.
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
# 55000 is what PostgreSQL answers a connection to a database that is refusing them for now
# (`ALTER DATABASE … ALLOW_CONNECTIONS false`, as during a restore or a failover).
_TRANSIENT_SQLSTATES = frozenset({"55000"})


def is_transient(error: BaseException) -> bool:
    """True if the database is away or busy (retry the same write later); False if the write
    itself is at fault (a bad row: retrying it would fail the same way)."""
    # OSError covers the builtin TimeoutError and ConnectionRefusedError from a driver's connect.
    if isinstance(error, OperationalError | InterfaceError | PoolTimeoutError | OSError):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        if isinstance(code, str):
            return code[:2] in _TRANSIENT_SQLSTATE_CLASSES or code in _TRANSIENT_SQLSTATES
        cause = error.orig.__cause__ if error.orig is not None else None
        return cause is not None and is_transient(cause)
    return False
