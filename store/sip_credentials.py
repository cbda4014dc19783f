"""Agents' phone credentials as digest HA1 (MD5 and SHA-256, RFC 7616/8760), never the password.

`ivr users sip-password AGENT` sets them (the password read from a prompt or stdin and hashed
there); the registrar reads them per REGISTER. A copy of the table still lets someone answer a
challenge for that realm (that is what HA1 is), so it is as secret as the store, but no password
that may be used elsewhere is kept.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from routing.agents import ha1_pair

from . import schema as t


class SipCredentials:
    def __init__(self, engine: Engine):
        self.engine = engine

    def set_password(self, agent_id: str, realm: str, password: str) -> None:
        if not password:
            raise ValueError("password: must not be empty")
        pair = ha1_pair(agent_id, realm, password)
        row = {"agent_id": agent_id, "realm": realm, "ha1_md5": pair["MD5"], "ha1_sha256": pair["SHA-256"],
               "updated_at": datetime.now(timezone.utc)}
        with self.engine.begin() as conn:
            ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(t.sip_credentials)
            conn.execute(ins.values(**row).on_conflict_do_update(index_elements=["agent_id"], set_=row))

    def get(self, agent_id: str, realm: str) -> dict[str, str] | None:
        """The agent's HA1s for `realm`; None when none are set (or were set for another realm)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(t.sip_credentials).where(t.sip_credentials.c.agent_id == agent_id)).first()
        if row is None or row.realm != realm:
            return None
        return {"MD5": row.ha1_md5, "SHA-256": row.ha1_sha256}

    def lookup(self, directory: Any, realm: str) -> Callable[[str], Mapping[str, str] | None]:
        """The registrar's `credentials_for`: the stored HA1s of a configured agent, else its
        configured ones (`directory.credentials_for`). Every name costs the same read, known or
        not, so the answer's timing tells no name apart."""

        def credentials_for(user: str) -> Mapping[str, str] | None:
            stored = self.get(user, realm)
            return (stored or directory.credentials_for(user)) if user in directory else None

        return credentials_for

    def remove(self, agent_id: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(t.sip_credentials).where(t.sip_credentials.c.agent_id == agent_id)).rowcount > 0

    def agents(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.scalars(select(t.sip_credentials.c.agent_id).order_by(t.sip_credentials.c.agent_id)))


__all__ = ["SipCredentials"]
