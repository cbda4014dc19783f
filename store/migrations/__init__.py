"""The store's schema migrations, applied in order by ``store.migrate.migrate``.

Each module ``mNNNN_<name>.py`` has ``VERSION`` (its number), ``DESCRIPTION`` and
``upgrade(conn)``; all of them run in one transaction per start-up, and the ``schema_version``
table records which have run. To change the schema: add the next module here (ALTER, new tables,
data moves), list it in ``MIGRATIONS``, and update ``store/schema.py`` to match.
"""

from __future__ import annotations

from types import ModuleType

from . import m0001_initial, m0002_accounts, m0003_scaleout

MIGRATIONS: tuple[ModuleType, ...] = (m0001_initial, m0002_accounts, m0003_scaleout)
