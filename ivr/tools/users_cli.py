"""`ivr users add NAME --role ROLE` and `ivr users list`: the panel's accounts, in the store;
`ivr users sip-password AGENT`: the agent's phone credentials, kept as digest HA1 (MD5, SHA-256).

The password is asked for twice on a terminal, or read from one line of stdin with
``--password-stdin`` (for scripts); it is never taken as an argument (shell history, ps).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from store.accounts import ROLES


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    a = sub.add_parser("add", help="create an account (or, with --replace, reset its password and role)")
    a.add_argument("name", help="user name; for an agent, their agent id")
    a.add_argument("--role", choices=ROLES, required=True)
    a.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    a.add_argument("--replace", action="store_true", help="the user exists: set a new password and role")
    a.add_argument("--db", default="sqlite:///var/ivr.db", help="store URL (default sqlite:///var/ivr.db)")
    sp = sub.add_parser("sip-password", help="set the password an agent's phone REGISTERs with (stored as HA1)")
    sp.add_argument("name", help="the agent id (the phone's digest user name)")
    sp.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    sp.add_argument("--remove", action="store_true", help="remove the stored credentials instead")
    sp.add_argument("--db", default="sqlite:///var/ivr.db", help="store URL (default sqlite:///var/ivr.db)")
    ls = sub.add_parser("list", help="list accounts (and agents whose phone credentials are stored)")
    ls.add_argument("--db", default="sqlite:///var/ivr.db", help="store URL (default sqlite:///var/ivr.db)")


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ValueError("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass(f"password for {args.name}: ")
    if first != getpass.getpass("again: "):
        raise ValueError("the passwords differ")
    return first


def _sip_password(store, args, prog: str) -> int:
    from routing.agents import REALM

    if args.remove:
        print(f"{args.name}: phone credentials {'removed' if store.sip_credentials.remove(args.name) else 'were not set'}")
        return 0
    try:
        store.sip_credentials.set_password(args.name, REALM, _password(args))
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    print(f"{args.name}: phone credentials stored as HA1 (MD5, SHA-256) for realm {REALM!r}")
    return 0


def run(args) -> int:
    from web.auth import hash_password
    from store import Store
    from store.accounts import AccountError

    prog = f"ivr users {args.action}"
    try:
        store = Store(args.db)
    except Exception as exc:  # a bad URL or an unreachable database: one line, not a traceback
        print(f"{prog}: cannot open the store {args.db.split('@')[-1]}: {type(exc).__name__}", file=sys.stderr)
        return 2
    try:
        if args.action == "list":
            flagged = store.auth_failures.flagged("web")
            for u in store.accounts.list_users():
                state = "disabled" if u["disabled"] else "active"
                print(f"{u['name']}\t{u['role']}\t{state}" + ("\tflagged: failed sign-ins" if u["name"] in flagged else ""))
            for agent in store.sip_credentials.agents():
                print(f"{agent}\tsip\tphone credentials stored (HA1)")
            return 0
        if args.action == "sip-password":
            return _sip_password(store, args, prog)
        try:
            store.accounts.add_user(args.name, args.role, hash_password(_password(args)), replace=args.replace)
        except (AccountError, ValueError) as exc:
            print(f"{prog}: {exc}", file=sys.stderr)
            return 2
        print(f"{args.name}: {args.role} account {'updated' if args.replace else 'created'}")
        return 0
    finally:
        store.close()


def first_admin(name: str | None, password: str | None, accounts) -> bool:
    """`ivr serve`'s first admin from IVR_ADMIN_USER / IVR_ADMIN_PASSWORD, hashed as `add` hashes,
    created only when the store has no account yet; True when it was created."""
    if not name or not password or accounts.list_users():
        return False
    from web.auth import hash_password

    accounts.add_user(name, "admin", hash_password(password))
    return True
