"""The capacity curve of `ivr bench capacity` as an SVG written by hand (no plotting library).

Concurrent calls across; voice-to-voice p50 and p95 (ms, left axis) with the 1.2 s limit dashed,
and the service's CPU (percent of one core, right axis). A level that failed a limit is drawn
in red: an operator reads where the box saturates at a glance.
"""

from __future__ import annotations

from html import escape
from typing import Any, Sequence

W, H = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 70, 60, 60


def _scale(v: float, lo: float, hi: float, a: float, b: float) -> float:
    return a + (v - lo) / ((hi - lo) or 1.0) * (b - a)


def _polyline(points: Sequence[tuple[float, float]], color: str, dash: str = "") -> str:
    if not points:
        return ""
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"{extra}/>'


def capacity_svg(levels: Sequence[dict[str, Any]], p95_limit_ms: float, title: str = "") -> str:
    """Pure: the SVG text for the levels (each `LevelResult` as a dict)."""
    xs = [lv["calls"] for lv in levels] or [0]
    x_lo, x_hi = 0, max(xs) + 1
    v_top = max([p95_limit_ms * 1.25] + [lv["voice_to_voice_ms"].get("p95") or 0 for lv in levels]) * 1.1
    v_hi = -(-v_top // 250) * 250  # round ticks: a multiple of 250 ms
    c_hi = -(-max([100.0] + [lv.get("cpu_percent") or 0 for lv in levels]) * 1.1 // 50) * 50
    x0, x1, y0, y1 = LEFT, W - RIGHT, H - BOTTOM, TOP

    def px(n):
        return _scale(n, x_lo, x_hi, x0, x1)

    def pv(ms):
        return _scale(ms, 0, v_hi, y0, y1)

    def pc(cpu):
        return _scale(cpu, 0, c_hi, y0, y1)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">{escape(title or "ivr bench capacity")}</text>',
           f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="black"/>',
           f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="black"/>',
           f'<line x1="{x1}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#888"/>']
    step = max(1, round(x_hi / 10))
    for n in range(0, x_hi + 1, step):
        out.append(f'<text x="{px(n):.1f}" y="{y0 + 18}" text-anchor="middle">{n}</text>')
    for i in range(6):
        ms, cpu = v_hi * i / 5, c_hi * i / 5
        out.append(f'<text x="{x0 - 6}" y="{pv(ms) + 4:.1f}" text-anchor="end">{ms:.0f}</text>')
        out.append(f'<text x="{x1 + 6}" y="{pc(cpu) + 4:.1f}" fill="#888">{cpu:.0f}</text>')
    out += [f'<text x="{W / 2}" y="{H - 18}" text-anchor="middle">concurrent calls</text>',
            f'<text x="18" y="{H / 2}" transform="rotate(-90 18 {H / 2})" text-anchor="middle">voice-to-voice, ms</text>',
            f'<text x="{W - 14}" y="{H / 2}" transform="rotate(90 {W - 14} {H / 2})" text-anchor="middle" fill="#888">'
            f'service CPU, % of one core</text>',
            f'<line x1="{x0}" y1="{pv(p95_limit_ms):.1f}" x2="{x1}" y2="{pv(p95_limit_ms):.1f}" stroke="#c00" '
            f'stroke-dasharray="6 4"/>',
            f'<text x="{x1 - 6}" y="{pv(p95_limit_ms) - 5:.1f}" text-anchor="end" fill="#c00">'
            f'p95 limit {p95_limit_ms:.0f} ms</text>']
    series = {"p50": [], "p95": [], "cpu": []}
    for lv in levels:
        v = lv["voice_to_voice_ms"]
        if v.get("p50") is not None:
            series["p50"].append((px(lv["calls"]), pv(v["p50"])))
        if v.get("p95") is not None:
            series["p95"].append((px(lv["calls"]), pv(v["p95"])))
        series["cpu"].append((px(lv["calls"]), pc(lv.get("cpu_percent") or 0)))
    out += [_polyline(series["p50"], "#1f77b4"), _polyline(series["p95"], "#ff7f0e"), _polyline(series["cpu"], "#888", "3 3")]
    for lv in levels:
        p95 = lv["voice_to_voice_ms"].get("p95")
        if p95 is None:
            continue
        color = "#2a2" if lv.get("passed") else "#c00"
        tip = escape(f'{lv["calls"]} calls: p95 {p95} ms, jitter max {lv["jitter_ms"].get("max")} ms, '
                     f'{lv.get("calls_failed", 0)} failed, CPU {lv.get("cpu_percent")} %')
        out.append(f'<circle cx="{px(lv["calls"]):.1f}" cy="{pv(p95):.1f}" r="5" fill="{color}"><title>{tip}</title></circle>')
    legend = [("#1f77b4", "p50 voice-to-voice"), ("#ff7f0e", "p95 voice-to-voice"), ("#888", "service CPU"),
              ("#2a2", "level held"), ("#c00", "level failed")]
    x = float(x0)
    for color, label in legend:  # one row between the title and the plot
        out.append(f'<rect x="{x:.1f}" y="{TOP - 27}" width="12" height="10" fill="{color}"/>'
                   f'<text x="{x + 16:.1f}" y="{TOP - 18}">{label}</text>')
        x += 16 + 6.5 * len(label) + 18
    out.append("</svg>")
    return "\n".join(x for x in out if x) + "\n"
