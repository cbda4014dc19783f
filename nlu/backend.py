"""The company's systems the bot resolves against, behind a ``Backend`` protocol.

The bundled implementation is a SQLite database seeded with demo customers,
orders and a knowledge base, so ``ivr serve`` works out of the box; an HTTP
CRM can be plugged in later by implementing the same protocol. Writes that
would reach the customer (a password-reset link) go to an ``outbox`` table,
which a mailer (or a test) reads.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol, runtime_checkable
import secrets


@dataclass(frozen=True)
class Customer:
    account_id: str
    name: str
    phone: str
    email: str
    tier: str
    balance_cents: int
    currency: str
    due_date: str | None  # ISO date of the next payment


@dataclass(frozen=True)
class Order:
    order_number: str
    account_id: str
    item: str
    status: str  # processing, shipped, out_for_delivery, delivered, delayed, cancelled
    eta: str | None  # ISO date


@dataclass(frozen=True)
class KbEntry:
    key: str
    question: str
    answer: str


@runtime_checkable
class Backend(Protocol):
    """What the triage dialog needs from the company's systems."""

    def customer(self, account_id: str) -> Customer | None: ...

    def customer_by_phone(self, phone: str) -> Customer | None: ...

    def customer_by_email(self, email: str) -> Customer | None: ...

    def verify(self, account_id: str, pin: str | None = None, dob: date | None = None) -> bool: ...

    def order(self, order_number: str) -> Order | None: ...

    def send_password_reset(self, account_id: str) -> str | None:
        """Queue a reset link; returns the masked address it goes to."""
        ...

    def kb_entries(self) -> list[KbEntry]: ...

    def kb_entry(self, key: str) -> KbEntry | None: ...


SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    account_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    tier TEXT NOT NULL,
    balance_cents INTEGER NOT NULL,
    currency TEXT NOT NULL DEFAULT 'USD',
    due_date TEXT,
    pin TEXT NOT NULL,
    dob TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS customers_phone ON customers(phone);
CREATE TABLE IF NOT EXISTS orders (
    order_number TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES customers(account_id),
    item TEXT NOT NULL,
    status TEXT NOT NULL,
    eta TEXT
);
CREATE TABLE IF NOT EXISTS kb (
    key TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    answer TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

# Demo data: invented people (phone numbers in the 555-01xx fiction range).
DEMO_CUSTOMERS = [
    # account_id, name, phone, email, tier, balance_cents, due_in_days, pin, dob
    ("12345678", "Alice Johnson", "+15555550101", "alice.johnson@example.com", "gold", 4250, 12, "4321", "1985-07-04"),
    ("23456789", "Bob Smith", "+15555550102", "bob.smith@example.com", "standard", 0, None, "1111", "1990-05-12"),
    ("34567890", "Carol Diaz", "+15555550103", "carol.diaz@example.org", "platinum", 129999, 5, "2468", "1978-11-30"),
    ("45678901", "Dev Patel", "+15555550104", "dev.patel@example.net", "standard", 1999, 20, "9753", "2001-06-21"),
    ("56789012", "Erin O'Neill", "+15555550105", "erin.oneill@example.com", "gold", 7700, 3, "8080", "1969-02-14"),
    ("67890123", "Farid Haddad", "+15555550106", "farid.haddad@example.com", "standard", 22222, 15, "1357", "1995-09-09"),
]
DEMO_ORDERS = [
    # order_number, account_id, item, status, eta_in_days (None: delivered / none)
    ("45678", "12345678", "wireless headphones", "shipped", 2),
    ("77222", "12345678", "phone case", "delivered", None),
    ("10234", "23456789", "running shoes", "out_for_delivery", 0),
    ("55501", "34567890", "smart speaker", "delayed", 6),
    ("60789", "45678901", "laptop stand", "processing", 4),
    ("31415", "56789012", "coffee grinder", "cancelled", None),
    ("98765", "67890123", "desk lamp", "shipped", 1),
]
DEMO_KB = [
    ("opening_hours", "What are your opening hours? When are you open?",
     "We're open Monday to Friday, 8 am to 8 pm, and Saturday 9 am to 5 pm. We're closed on Sundays and public holidays."),
    ("store_location", "Where is your store? What is your address?",
     "Our store is at 100 Main Street, Springfield, next to the central station."),
    ("returns_policy", "What is your returns policy? Can I return an item?",
     "You can return any item within 30 days for a full refund. Refunds reach your account 5 to 7 days after we receive the return."),
    ("delivery_times", "How long does delivery take? Do you deliver on weekends?",
     "Standard delivery takes 3 to 5 working days, express takes 1 to 2. We deliver on Saturdays but not on Sundays."),
    ("payment_methods", "What payment methods do you accept?",
     "We accept all major credit and debit cards, PayPal and bank transfer."),
    ("troubleshooting", "My internet or device is not working.",
     "Please switch your router off, wait thirty seconds, and switch it on again. Most problems clear within two minutes."),
]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def mask_email(email: str) -> str:
    """``alice.johnson@example.com`` → ``a***@example.com`` (safe to say aloud)."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


class SQLiteBackend:
    """``Backend`` over a SQLite file (or ``:memory:``); safe to share across threads."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _one(self, sql: str, *args) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def seed_demo(self, today: date | None = None) -> None:
        """Insert the demo company (idempotent); dates are relative to ``today``."""
        today = today or date.today()
        with self._lock, self._db:
            for acc, name, phone, email, tier, bal, due, pin, dob in DEMO_CUSTOMERS:
                due_iso = (today + timedelta(days=due)).isoformat() if due is not None else None
                self._db.execute(
                    "INSERT OR IGNORE INTO customers VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (acc, name, phone, email, tier, bal, "USD", due_iso, pin, dob),
                )
            for num, acc, item, status, eta in DEMO_ORDERS:
                eta_iso = (today + timedelta(days=eta)).isoformat() if eta is not None else None
                self._db.execute("INSERT OR IGNORE INTO orders VALUES (?,?,?,?,?)", (num, acc, item, status, eta_iso))
            for key, q, a in DEMO_KB:
                self._db.execute("INSERT OR IGNORE INTO kb VALUES (?,?,?)", (key, q, a))

    @staticmethod
    def _customer(row: sqlite3.Row | None) -> Customer | None:
        if row is None:
            return None
        return Customer(row["account_id"], row["name"], row["phone"], row["email"], row["tier"],
                        row["balance_cents"], row["currency"], row["due_date"])

    def customer(self, account_id: str) -> Customer | None:
        return self._customer(self._one("SELECT * FROM customers WHERE account_id = ?", account_id))

    def customer_by_phone(self, phone: str) -> Customer | None:
        digits = "".join(ch for ch in phone if ch.isdigit())
        if len(digits) < 7:
            return None
        return self._customer(self._one("SELECT * FROM customers WHERE phone LIKE ?", f"%{digits[-10:]}"))

    def customer_by_email(self, email: str) -> Customer | None:
        return self._customer(self._one("SELECT * FROM customers WHERE lower(email) = ?", email.lower()))

    def verify(self, account_id: str, pin: str | None = None, dob: date | None = None) -> bool:
        row = self._one("SELECT pin, dob FROM customers WHERE account_id = ?", account_id)
        if row is None:
            return False
        if pin is not None and secrets.compare_digest(pin, row["pin"]):
            return True
        return dob is not None and dob.isoformat() == row["dob"]

    def order(self, order_number: str) -> Order | None:
        row = self._one("SELECT * FROM orders WHERE order_number = ?", order_number)
        if row is None:
            return None
        return Order(row["order_number"], row["account_id"], row["item"], row["status"], row["eta"])

    def send_password_reset(self, account_id: str) -> str | None:
        cust = self.customer(account_id)
        if cust is None:
            return None
        token = secrets.token_urlsafe(16)
        body = f"Hello {cust.name}, reset your password here: https://example.com/reset/{token} (valid for 1 hour)."
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO outbox (account_id, channel, address, kind, body, created_at) VALUES (?,?,?,?,?,?)",
                (account_id, "email", cust.email, "password_reset", body, _now()),
            )
        return mask_email(cust.email)

    def outbox(self) -> list[dict]:
        """Everything queued for delivery, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM outbox ORDER BY id").fetchall()
        return [dict(r) for r in rows]

    def kb_entries(self) -> list[KbEntry]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM kb ORDER BY key").fetchall()
        return [KbEntry(r["key"], r["question"], r["answer"]) for r in rows]

    def kb_entry(self, key: str) -> KbEntry | None:
        row = self._one("SELECT * FROM kb WHERE key = ?", key)
        return KbEntry(row["key"], row["question"], row["answer"]) if row else None


def open_demo_backend(path: str | Path = ":memory:", today: date | None = None) -> SQLiteBackend:
    """A SQLite backend at ``path`` (file or ``":memory:"``) seeded with the demo company."""
    be = SQLiteBackend(path)
    be.seed_demo(today)
    return be
