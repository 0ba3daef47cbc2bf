"""The catalog's database: one engine per URL, brought to the newest Alembic revision on first use.

The embedded SQLite file and a team's PostgreSQL are served alike; SQLite's
migrations run with transactional DDL, so a migrator killed halfway leaves
nothing behind. Statements over many ids are cut into bounded IN lists.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

__all__ = ["catalog_url", "engine", "in_batches", "rows_by_id"]

_MIGRATIONS = Path(__file__).parent / "migrations"
_JSON_CODEC = {"json_serializer": lambda value: orjson.dumps(value).decode(), "json_deserializer": orjson.loads}


def catalog_url(target: str | Path) -> str:
    """A SQLAlchemy URL for a SQLite file path or a database URL (`postgresql://` uses psycopg 3)."""
    text = str(target)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text.removeprefix(prefix)
    return text


@cache
def engine(url: str) -> sa.Engine:
    """One engine per URL per process, migrated to the newest schema on first use."""
    if url.startswith("sqlite"):
        database = Path(sa.make_url(url).database or "")
        database.parent.mkdir(parents=True, exist_ok=True)
        found = sa.create_engine(url, connect_args={"timeout": 60}, **_JSON_CODEC)

        @sa.event.listens_for(found, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        with database.with_suffix(".migrate.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # step processes open the same file side by side
            _migrate(_transactional_ddl(url))
    else:
        found = sa.create_engine(url, pool_size=10, pool_pre_ping=True, **_JSON_CODEC)
        _migrate(found)
    return found


def _transactional_ddl(url: str) -> sa.Engine:
    """A SQLite engine whose transactions hold DDL too, so a migrator killed halfway leaves nothing behind.

    Python's sqlite3 runs `CREATE TABLE` outside any transaction; a process
    killed between two tables would leave a half-built schema that no later
    migration can finish. Here the driver's own transaction handling is off and
    every transaction is an explicit `BEGIN IMMEDIATE`.
    """
    migrating = sa.create_engine(url, connect_args={"timeout": 60, "isolation_level": None}, poolclass=sa.NullPool)

    @sa.event.listens_for(migrating, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return migrating


def _at_head(migrating: sa.Engine) -> bool:
    """Whether the database is at the newest revision, without importing Alembic (half a second).

    Revisions are numbered like their files (`versions/0001_initial.py` is revision 0001).
    """
    newest = max(path.name.split("_", 1)[0] for path in (_MIGRATIONS / "versions").glob("[0-9]*_*.py"))
    try:
        with migrating.connect() as connection:
            return connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == newest
    except sa.exc.DBAPIError:  # no catalog yet
        return False


def _migrate(migrating: sa.Engine) -> None:
    if _at_head(migrating):
        return
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with migrating.begin() as connection:
        if migrating.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(727365)"))  # one migrator at a time
        if MigrationContext.configure(connection).get_current_revision() != head:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")


def in_batches(items: Iterable[Any], *, size: int = 5000) -> Iterable[list[Any]]:
    """Bounded IN lists: SQLite allows 32,766 parameters per statement."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rows_by_id(
    db: sa.Connection,
    table: sa.Table,
    ids: Iterable[int],
    *,
    columns: Sequence[str | sa.ColumnElement[Any]] | None = None,
) -> dict[int, sa.Row]:
    """Rows of a table with an `id` key (datasets, jobs): all columns, or those named or given (`id` among them)."""
    selected = [table.c[c] if isinstance(c, str) else c for c in columns] if columns else [table]
    return {
        row.id: row
        for batch in in_batches(set(ids))
        for row in db.execute(sa.select(*selected).where(table.c.id.in_(batch)))
    }
