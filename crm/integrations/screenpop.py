"""Screen pop: the rep who answers a call sees the caller's card on whatever page they have open.

Design: server-sent events, polled from the database, short-lived.

- ``apply_calls`` writes a ScreenPop row in the webhook's transaction (one INSERT … ON
  CONFLICT DO NOTHING for the whole post). The rep's page keeps an EventSource on
  /events/stream; the stream reads that rep's rows after the last id it saw. The row is the
  hand-over, so the webhook and the stream may be served by different gunicorn workers (or
  machines): nothing lives in one worker's memory.
- Each stream answer is short: with the default SCREEN_POP_HOLD_SECONDS=0 it sends what is
  waiting and closes; the browser reconnects after ``retry`` (700 ms) and sends Last-Event-ID.
  A sync gunicorn worker is thus held for one small indexed query, never for minutes, and a
  pop shows within about a second. With threaded workers (gthread) a hold of a few seconds
  trades requests for held threads.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

from flask import Response, abort, current_app, request, stream_with_context, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.auth.models import User
from crm.db import utcnow
from crm.extensions import db
from crm.integrations.models import ScreenPop
from crm.touches.models import Touch

RETRY_MS = 700
POLL_SECONDS = 0.25
FIRST_LOOK_BACK = timedelta(seconds=10)  # a first connection still shows a call answered as the page loaded


def pops_after(user: User, after_id: int | None, limit: int = 10) -> list[ScreenPop]:
    stmt = select(ScreenPop).where(ScreenPop.user_id == user.id)
    if after_id is None:
        stmt = stmt.where(ScreenPop.created_at >= utcnow() - FIRST_LOOK_BACK)
    else:
        stmt = stmt.where(ScreenPop.id > after_id)
    stmt = stmt.options(selectinload(ScreenPop.touch).selectinload(Touch.contact),
                        selectinload(ScreenPop.touch).selectinload(Touch.lead))
    return list(db.session.scalars(stmt.order_by(ScreenPop.id).limit(limit)))


def card(pop: ScreenPop) -> dict:
    """What the card shows: the caller, their number, the lead and where to open them."""
    touch, contact = pop.touch, pop.touch.contact
    lead = touch.lead
    return {
        "id": pop.id, "touch_id": touch.id, "number": touch.ani if touch.direction.value == "inbound" else touch.dnis,
        "contact": {"id": contact.id, "name": contact.full_name, "phone": contact.phone, "email": contact.email,
                    "account": contact.account.name if contact.account else None,
                    "url": url_for("contacts.show", contact_id=contact.id)},
        "lead": None if lead is None else {"id": lead.id, "title": lead.title, "stage": lead.stage.value,
                                           "url": url_for("leads.show", lead_id=lead.id)},
    }


def _after_id() -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("after") or ""
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def _frame(pop: ScreenPop) -> str:
    return f"id: {pop.id}\nevent: screenpop\ndata: {json.dumps(card(pop))}\n\n"


def stream_response(user: User) -> Response:
    """One short answer of the event stream (see the module docstring)."""
    if not user.is_authenticated:
        abort(401)
    user_id, after = user.id, _after_id()
    hold = max(0, current_app.config.get("SCREEN_POP_HOLD_SECONDS", 0))
    pops = pops_after(user, after)
    first = f"retry: {RETRY_MS}\n\n" + "".join(_frame(p) for p in pops)
    if pops or hold == 0:
        return _response(first)
    db.session.rollback()  # no transaction (on SQLite: no write lock) held while waiting

    def more():
        yield first
        deadline = time.monotonic() + hold
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            found = pops_after(db.session.get(User, user_id), after)
            chunk = "".join(_frame(p) for p in found)
            db.session.rollback()
            if chunk:
                yield chunk
                return
        yield ": bye\n\n"

    return _response(stream_with_context(more()))


def _response(body) -> Response:
    return Response(body, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
