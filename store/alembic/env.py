"""Alembic's environment for the store.

From code (``store.upgrade.migrate``, at every start-up) the caller hands over a connection that
already holds the migration lock, in ``config.attributes["connection"]``; from the command line
(``alembic -c store/alembic.ini upgrade head``) this file opens one itself and takes the same
lock, so a developer's upgrade never races a worker's. Either way a database made by the old
hand-written migrations is first stamped at the revision its ``schema_version`` names.
"""

from __future__ import annotations

from alembic import context

from store import schema
from store.db import make_engine
from store.upgrade import adopt_legacy, include_object, locked

config = context.config


def _record(ctx, step, heads, run_args) -> None:  # type: ignore[no-untyped-def]
    if step.is_upgrade and not step.is_stamp:
        config.attributes.setdefault("applied", []).append(step.up_revision_id)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=schema.metadata, include_object=include_object,
                      compare_type=True, on_version_apply=_record)
    with context.begin_transaction():
        adopt_legacy(context.get_context(), context.script)
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=schema.metadata,
                      include_object=include_object, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (conn := config.attributes.get("connection")) is not None:
    _run(conn)
else:
    engine = make_engine(context.get_x_argument(as_dictionary=True).get("url")
                         or config.get_main_option("sqlalchemy.url"))
    try:
        with locked(engine) as conn:
            _run(conn)
    finally:
        engine.dispose()
