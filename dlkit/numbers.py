"""Numbers as people read them, in tables, reports and the terminal."""

from __future__ import annotations


def number(value: float | None) -> str:
    """A metric as people read it: whole numbers whole (99370, not 99370.0000), four decimals for scores,
    one for large values, three significant digits for tiny ones."""
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 1000:
        return f"{value:.1f}"
    if abs(value) < 1e-3:
        return f"{value:.3g}"
    return f"{value:.4f}"


def clock(seconds: float) -> str:
    """A duration as a clock reads: 0:42, 12:05, 1:02:09."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
