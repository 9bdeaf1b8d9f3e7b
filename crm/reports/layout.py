"""Which figures each report shows, in what order, with what label and format.

The pages, the CSV downloads and the weekly email all read these lists, so a figure is
named and formatted once. Keys with dots reach into nested results ("conversion.close_won").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask_babel import lazy_gettext as _l

from crm.leads.export import safe_cell
from crm.reports import formatting

FUNNEL = [
    ("created", _l("Leads created"), "count"),
    ("reached_nurture", _l("Reached nurture"), "count"),
    ("reached_propose", _l("Reached propose"), "count"),
    ("reached_close", _l("Reached close"), "count"),
    ("won", _l("Won"), "count"),
    ("lost", _l("Lost"), "count"),
    ("open", _l("Still open"), "count"),
    ("conversion.discover_nurture", _l("Discover → nurture"), "rate"),
    ("conversion.nurture_propose", _l("Nurture → propose"), "rate"),
    ("conversion.propose_close", _l("Propose → close"), "rate"),
    ("conversion.close_won", _l("Close → won"), "rate"),
    ("win_rate", _l("Win rate (won / closed)"), "rate"),
    ("won_value", _l("Won value"), "money"),
    ("median_days.discover", _l("Median days in discover"), "days"),
    ("median_days.nurture", _l("Median days in nurture"), "days"),
    ("median_days.propose", _l("Median days in propose"), "days"),
    ("median_days.close", _l("Median days in close"), "days"),
]

ACTIVITY = [
    ("outbound_calls", _l("Outbound calls"), "count"),
    ("connects", _l("Connects"), "count"),
    ("connect_rate", _l("Connect rate"), "rate"),
    ("talk_seconds", _l("Talk time"), "seconds"),
    ("avg_talk_seconds", _l("Average talk time"), "seconds"),
    ("aht_seconds", _l("Average handle time"), "seconds"),
    ("attempts_per_lead", _l("Attempts per lead"), "ratio"),
    ("leads_worked", _l("Leads worked"), "count"),
    ("emails", _l("Emails"), "count"),
    ("chats", _l("Chats"), "count"),
    ("social", _l("Social"), "count"),
    ("speed_to_lead_median_seconds", _l("Speed-to-lead, median"), "seconds"),
    ("speed_to_lead_p90_seconds", _l("Speed-to-lead, 90th percentile"), "seconds"),
    ("untouched_leads", _l("New leads not yet touched"), "count"),
    ("follow_up_compliance", _l("Follow-ups on time"), "rate"),
    ("handoffs_sent", _l("Hand-offs sent"), "count"),
    ("handoffs_accepted", _l("Hand-offs accepted"), "count"),
    ("acceptance_rate", _l("Acceptance rate"), "rate"),
    ("median_hours_to_accept", _l("Median hours to accept"), "ratio"),
    ("handoff_won_rate", _l("Accepted hand-offs won"), "rate"),
]

INBOUND = [
    ("offered", _l("Calls offered"), "count"),
    ("answered", _l("Answered"), "count"),
    ("abandoned", _l("Abandoned"), "count"),
    ("abandon_rate", _l("Abandon rate"), "rate"),
    ("asa_seconds", _l("Average speed of answer"), "seconds"),
    ("service_level", _l("Service level"), "rate"),
    ("avg_queue_seconds", _l("Average time in queue"), "seconds"),
    ("surveys_answered", _l("Surveys answered"), "count"),
    ("csat", _l("CSAT (4 or 5 of 5)"), "rate"),
]

COST = [
    ("calls", _l("Calls"), "count"),
    ("call_labour", _l("Labour on calls"), "money"),
    ("cost_per_call", _l("Cost per call"), "money"),
]

COST_ROW = [
    ("spend", _l("Spend"), "money"),
    ("labour", _l("Labour"), "money"),
    ("cost", _l("Cost"), "money"),
    ("leads", _l("Leads"), "count"),
    ("won", _l("Won"), "count"),
    ("won_value", _l("Won value"), "money"),
    ("cost_per_lead", _l("Cost per lead"), "money"),
    ("cost_per_won", _l("Cost per won deal"), "money"),
    ("return_on_cost", _l("Won value / cost"), "ratio"),
]

CHANGE_KIND = {"count": "count", "rate": "rate", "money": "money", "seconds": "seconds", "days": "days",
               "ratio": "ratio"}


def pick(figures: dict, key: str):
    value = figures
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def comparison_rows(current: dict, previous: dict, spec) -> list[dict]:
    """One row per figure: label, both values shown, the change, and the raw values."""
    rows = []
    for key, label, kind in spec:
        cur, prev = pick(current, key), pick(previous, key)
        rows.append({"key": key, "label": label, "kind": kind, "current": cur, "previous": prev,
                     "current_text": formatting.show(cur, kind), "previous_text": formatting.show(prev, kind),
                     "change_text": formatting.change(cur, prev, CHANGE_KIND[kind])})
    return rows


def csv_lines(header: list[str], rows: list[list]) -> Iterator[str]:
    """CSV text, every cell formula-safe (crm.leads.export.safe_cell)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    yield buffer.getvalue()


def comparison_csv(current: dict, previous: dict, spec) -> list[list]:
    return [[str(label), formatting.csv_value(pick(current, key), kind), formatting.csv_value(pick(previous, key), kind)]
            for key, label, kind in spec]
