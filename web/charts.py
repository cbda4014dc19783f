"""The panel's pictures as inline SVG, used as Jinja filters: a frustration sparkline, each
caller turn's bar coloured by what drove it, a bar chart and its histogram buckets. No script
and no inline style (the panel's Content-Security-Policy allows neither); labels escaped."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from markupsafe import Markup, escape

from nlu.fusion import PART_NAMES


def spark(values: Iterable[float | None]) -> Markup:
    """A frustration sparkline as inline SVG (no script; the CSP allows none inline)."""
    vals = [max(0.0, min(1.0, float(v))) for v in values if v is not None]
    pts = [f"{(i * 100 / (len(vals) - 1)) if len(vals) > 1 else 0:.1f},{30 - v * 30:.1f}" for i, v in enumerate(vals)]
    if len(pts) == 1:
        pts.append(f"100,{pts[0].split(',')[1]}")
    line = f'<polyline points="{" ".join(pts)}"/>' if pts else ""
    return Markup(f'<svg class="spark" viewBox="0 0 100 30" preserveAspectRatio="none" role="img" '
                  f'aria-label="frustration per turn">{line}</svg>')


def _part_words(fr: Mapping[str, Any]) -> str:
    """"turn 2: 0.64 (smoothed 0.51); voice +1.20, words +0.30, dialogue 0.00" for a tooltip."""
    score, smoothed = fr.get("score"), fr.get("smoothed")
    out = f"{score:.2f}" if isinstance(score, (int, float)) else "no score"
    if isinstance(smoothed, (int, float)):
        out += f" (smoothed {smoothed:.2f})"
    parts = fr.get("parts")
    if isinstance(parts, Mapping):
        out += "; " + ", ".join(f"{name} {float(parts[key]):+.2f}" for key, name in PART_NAMES.items()
                                if isinstance(parts.get(key), (int, float)))
    return out


def turn_bar(fr: Mapping[str, Any] | None, index: int | None = None) -> Markup:
    """One caller turn's frustration: a small bar as tall as the turn's score, coloured by the part
    that drove it (class ``drove-voice``, ``drove-words``, ``drove-dialogue``; ``drove-none`` when no
    part added anything or the turn was stored without its parts), its score and that part's name.
    SVG attributes only: the CSP allows no inline style."""
    fr = fr if isinstance(fr, Mapping) else {}
    score = fr.get("score")
    value = max(0.0, min(1.0, float(score))) if isinstance(score, (int, float)) else 0.0
    name = fr.get("drove") if fr.get("drove") in PART_NAMES.values() else None
    h = round(value * 24, 1)
    shown = f"{value:.2f}" if isinstance(score, (int, float)) else "—"
    title = (f"turn {index + 1}: " if index is not None else "") + _part_words(fr)
    return Markup(f'<span class="turnbar drove-{name or "none"}" title="{escape(title)}">'
                  f'<svg viewBox="0 0 8 24" width="8" height="24" aria-hidden="true">'
                  f'<rect x="0" y="{24 - h:.1f}" width="8" height="{h:.1f}"/></svg>'
                  f'<b>{shown}</b> <small>{escape(name or "—")}</small></span>')


def turn_strip(trajectory: Iterable[Mapping[str, Any]]) -> Markup:
    """The per-turn strip: one `turn_bar` per caller turn, in order."""
    items = [f"<li>{turn_bar(fr, i)}</li>" for i, fr in enumerate(trajectory)]
    if not items:
        return Markup('<span class="muted">no turns yet</span>')
    return Markup(f'<ol class="strip" aria-label="frustration per turn and what drove it">{"".join(items)}</ol>')


def bars(items: Iterable[tuple[str, float]]) -> Markup:
    """A horizontal bar chart as inline SVG; labels escaped."""
    items = [(str(k), float(v)) for k, v in items]
    if not items:
        return Markup('<p class="muted">No data yet.</p>')
    top = max((v for _, v in items), default=0) or 1.0
    row, width, label_w = 22, 460, 150
    parts = []
    for i, (label, value) in enumerate(items):
        y = i * row
        w = (width - label_w - 50) * value / top
        shown = f"{value:g}"
        parts.append(f'<text x="0" y="{y + 15}">{escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="14"/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{escape(shown)}</text>')
    height = row * len(items)
    return Markup(f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img">{"".join(parts)}</svg>')


def histogram(values: list[float], edges: list[float], fmt: str) -> list[tuple[str, float]]:
    out = []
    for lo, hi in zip(edges, edges[1:]):
        n = sum(1 for v in values if lo <= v < hi or (hi == edges[-1] and v == hi))
        out.append((fmt.format(lo, hi), n))
    return out
