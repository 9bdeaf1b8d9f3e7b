"""How report figures read on the pages and in CSV: empty figures are a dash, never 0."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import format_decimal, format_percent

DASH = "—"


def pct(value) -> str:
    return DASH if value is None else format_percent(value, "#,##0.0%")


def num(value, digits: int = 0) -> str:
    if value is None:
        return DASH
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, pattern)


def money(value) -> str:
    return DASH if value is None else format_decimal(Decimal(value), "#,##0.00")


def duration(seconds) -> str:
    """Seconds as m:ss (h:mm:ss from an hour)."""
    if seconds is None:
        return DASH
    total = int(round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def days(value) -> str:
    return num(value, 1)


def change(current, previous, kind: str = "count") -> str:
    """now − before: rates in percentage points, money and counts as a signed number."""
    if current is None or previous is None:
        return DASH
    diff = float(current) - float(previous)
    if kind == "rate":
        return f"{diff * 100:+.1f} pp"
    if kind == "money":
        return f"{diff:+,.2f}"
    if kind in ("seconds", "days", "ratio"):
        return f"{diff:+,.1f}"
    return f"{diff:+,.0f}"


FORMATS = {"count": num, "rate": pct, "money": money, "seconds": duration, "days": days,
           "ratio": lambda v: num(v, 2)}


def show(value, kind: str = "count") -> str:
    return FORMATS[kind](value)


def csv_value(value, kind: str = "count") -> str:
    """Plain machine-readable values for CSV (a dash when empty)."""
    if value is None:
        return DASH
    if kind == "money":
        return str(Decimal(value).quantize(Decimal("0.01")))
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if kind in ("rate", "ratio") else f"{value:.1f}"
    return str(value)
