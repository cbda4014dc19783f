"""The demo SQLite backend behind the Backend protocol."""

from __future__ import annotations

from datetime import date

from nlu.backend import Backend, SQLiteBackend, mask_email, open_demo_backend


def test_is_a_backend(backend):
    assert isinstance(backend, Backend)


def test_customers_and_lookups(backend):
    c = backend.customer("12345678")
    assert c.name == "Alice Johnson" and c.balance_cents == 4250 and c.tier == "gold"
    assert backend.customer_by_phone("(555) 555-0101").account_id == "12345678"
    assert backend.customer_by_email("BOB.SMITH@example.com").account_id == "23456789"
    assert backend.customer("00000000") is None
    assert backend.customer_by_phone("12") is None


def test_verify_by_pin_or_date_of_birth(backend):
    assert backend.verify("12345678", pin="4321")
    assert backend.verify("12345678", dob=date(1985, 7, 4))
    assert not backend.verify("12345678", pin="0000")
    assert not backend.verify("12345678", dob=date(1985, 7, 5))
    assert not backend.verify("99999999", pin="4321")
    assert not backend.verify("12345678")


def test_orders_have_relative_etas(backend, today):
    o = backend.order("45678")
    assert o.status == "shipped" and o.item == "wireless headphones"
    assert date.fromisoformat(o.eta) > today
    assert backend.order("00000") is None


def test_password_reset_goes_to_the_outbox(backend):
    assert backend.outbox() == []
    masked = backend.send_password_reset("12345678")
    assert masked == "a***@example.com"
    (msg,) = backend.outbox()
    assert msg["address"] == "alice.johnson@example.com" and msg["kind"] == "password_reset"
    assert "https://example.com/reset/" in msg["body"]
    assert backend.send_password_reset("nope") is None


def test_knowledge_base(backend):
    keys = {e.key for e in backend.kb_entries()}
    assert {"opening_hours", "returns_policy", "delivery_times"} <= keys
    assert "Monday to Friday" in backend.kb_entry("opening_hours").answer
    assert backend.kb_entry("nope") is None


def test_file_database_persists_and_seeding_is_idempotent(tmp_path):
    path = tmp_path / "demo.sqlite"
    be = open_demo_backend(path)
    be.send_password_reset("23456789")
    be.close()
    again = open_demo_backend(path)
    assert len(again.outbox()) == 1
    assert len(again.kb_entries()) == len(SQLiteBackend(path).kb_entries())
    again.close()


def test_mask_email():
    assert mask_email("bob@example.com") == "b***@example.com"
    assert mask_email("nonsense") == "***"
