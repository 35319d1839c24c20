"""Where a study lives: one URL, one code path, whatever the back end (Optuna's storages are interchangeable).

    a file path, or file:PATH     Optuna's JournalStorage on a local journal file (nothing to install; the default,
                                  in a temporary folder, when no storage is given)
    redis://host:port/db          Optuna's JournalStorage on a Redis server (JournalRedisBackend): workers on other
                                  machines join with ``nnplayground search-worker``
    sqlite:///PATH, postgresql://user:pass@host/db, mysql://...
                                  Optuna's RDBStorage (SQLAlchemy; PostgreSQL needs a driver such as psycopg2)

A storage URL can carry a password: it is never put in an error's ``received``, a summary or an event (what a
page could receive); errors say which kind of storage failed and why.
"""

from __future__ import annotations

import os
import warnings
from urllib.parse import urlsplit

import optuna
from optuna.storages import RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalRedisBackend, JournalStorage

from app.server.errors import Described

from .spec import SearchError

REDIS_SCHEMES = ("redis", "rediss", "unix")
RDB_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql")
ALLOWED = ("a journal file path (or file:PATH), redis://host:port/db, sqlite:///PATH, "
           "postgresql://user:password@host/db or mysql://user:password@host/db")
CONNECT_TIMEOUT = 3.0  # s to reach a database server before the search is refused


def kind(url: str) -> str:
    """"journal", "redis" or "rdb": which storage ``url`` names (SearchError for none of them)."""
    scheme = urlsplit(url).scheme.lower().split("+")[0] if "://" in url else ""
    if scheme in REDIS_SCHEMES:
        return "redis"
    if scheme in RDB_SCHEMES:
        return "rdb"
    if scheme in ("", "file") or url.startswith("file:"):
        return "journal"
    raise SearchError("storage", Described(f"<a {scheme}:// URL>"), ALLOWED)


def _journal_path(url: str) -> str:
    if url.startswith("file://"):
        return urlsplit(url).path
    return url[len("file:"):] if url.startswith("file:") else url


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """The Optuna storage ``url`` names, reached now: SearchError when it cannot be (the server is down, the file's
    folder is missing, a driver is not installed)."""
    what = kind(url)
    shown = Described(f"<a {urlsplit(url).scheme or 'journal file'} storage URL>")
    if what == "journal":
        path = _journal_path(url)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise SearchError("storage", shown, ALLOWED + ", in a folder that exists and is writable",
                              "the journal file's folder does not exist or is not writable")
        return JournalStorage(JournalFileBackend(path))
    if what == "redis":
        import redis

        try:
            redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT).ping()
        except (redis.RedisError, ValueError, OSError) as error:
            raise SearchError("storage", shown, "a Redis server that answers",
                              f"could not reach the Redis server ({_reason(error)})") from None
        with warnings.catch_warnings():  # "experimental" since Optuna 3.1, and what the issue asks for
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return JournalStorage(JournalRedisBackend(url))
    try:
        return RDBStorage(url, engine_kwargs=_rdb_engine_kwargs(url))
    except ModuleNotFoundError as error:
        raise SearchError("storage", shown, "a database whose Python driver is installed",
                          f"the database driver {error.name!r} is not installed (for PostgreSQL: pip install "
                          f"psycopg2-binary)") from None
    except Exception as error:  # SQLAlchemy's OperationalError, ArgumentError...: no URL in the text we keep
        raise SearchError("storage", shown, "a database server that answers",
                          f"could not open the database ({type(error).__name__})") from None


def _rdb_engine_kwargs(url: str) -> dict:
    scheme = urlsplit(url).scheme.lower()
    if scheme.startswith(("postgresql", "postgres", "mysql", "mariadb")):
        return {"connect_args": {"connect_timeout": int(CONNECT_TIMEOUT)}}
    return {}


def _reason(error: Exception) -> str:
    """Why a connection failed, without the address (it is part of the URL)."""
    cause = error
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return type(error).__name__
