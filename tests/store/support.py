"""Helpers the store's tests share: card numbers to hunt for, a turn event, a dump of every row."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from store import schema

CARD = "4111111111111111"
CARD_GROUPED = "4111 1111 1111 1111"
CARD_SPOKEN = "four one one one one one one one one one one one one one one one"
ROOT = Path(__file__).resolve().parents[2]


def turn_event(i: int, text_: str, intent: str = "order_status", score: float = 0.2) -> dict:
    return {"event": "turn", "index": i, "start": 1.0 + i * 3, "end": 2.5 + i * 3, "text": text_,
            "prosody": {"pitch_z": 0.4, "energy_z": -0.1}, "intent": intent, "confidence": 0.82,
            "entities": {"order_number": "A12345"},
            "frustration": {"score": score, "smoothed": score * 0.9, "parts": {"text": score, "prosody": 0.1}}}


def all_rows_text(engine) -> str:
    """Every row of every store table, as text (what an attacker with the database would see)."""
    out = []
    with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            for row in conn.execute(text(f'SELECT * FROM "{table.name}"')):
                out.append(repr(tuple(row)))
    return "\n".join(out)
