"""The scale-out topology on one machine, for `make cluster` and the `scaleout` tests.

PostgreSQL (a throwaway cluster), Kamailio (the dispatcher config in docker/kamailio, with a
generated worker list) and N `ivr serve` workers sharing that database, all on loopback ports;
every process started here is stopped by its PID. `python -m cluster` runs it in the foreground.
"""

from .postgres import Postgres, find_pg_bindir
from .kamailio import Kamailio, dispatcher_list
from .topology import Cluster, Worker

__all__ = ["Cluster", "Kamailio", "Postgres", "Worker", "dispatcher_list", "find_pg_bindir"]
