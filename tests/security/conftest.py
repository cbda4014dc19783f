"""The security tests use the store's database fixtures (SQLite and a throwaway PostgreSQL)."""

from tests.store.conftest import db_url, pg_server  # noqa: F401  (fixtures)
