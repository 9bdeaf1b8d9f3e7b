"""The sender: hands queued outbox rows to SendGrid's v3 Mail Send, never one message twice.

How a row moves, and why a crash can never send it twice
--------------------------------------------------------
1. **Claim.** A batch of due ``queued`` rows (next_attempt_at passed, no live claim)
   is selected with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite's write lock
   serialises senders instead) and given a claim lease: ``claimed_until = now + CLAIM_SECONDS``.
   Committed. Other senders skip rows with a live lease, so two senders never take one row.
   A sender that dies now leaves ``queued`` rows that were never handed to SendGrid;
   once the lease passes they are claimed again. That is safe.
2. **Mark sending.** Just before their calls, the next group of rows (SENDGRID_CONCURRENCY,
   8 by default) is moved ``queued → sending`` (attempts + 1) by an UPDATE that only
   matches while *our* lease still holds, and this is **committed before SendGrid is
   called**. No transaction is open during the calls, which go out together.
3. **Call SendGrid**, then record the answers (committed with the next group's mark):
   2xx → ``sent`` (X-Message-Id kept, an outbound email touch logged);
   429 / 5xx / connection refused → back to ``queued`` with exponential backoff, or
   ``failed`` after SENDGRID_MAX_ATTEMPTS; other 4xx → ``failed`` with SendGrid's message.

**The rule for rows stuck in ``sending``:** no sender ever selects a ``sending`` row.
A crash (or a timeout with no answer) between step 2 and the commit in step 3 leaves
the row in ``sending`` (at most one group: the calls that were in flight). SendGrid
may or may not have accepted it, and re-sending could email the contact twice. So it
stays there; once its lease (``claimed_until``) has passed it is shown as "outcome
unknown". It is settled by the first SendGrid event carrying its id in ``custom_args``
(processed, delivered …: see crm.email.events), or by a person pressing "Send again"
(crm.email.service.send_again) after checking.
"""

from __future__ import annotations

import json
import logging
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr

from flask import current_app
from markupsafe import escape
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, From, Header, Mail, ReplyTo, To
from sendgrid.helpers.mail.exceptions import ApiKeyIncludedException
from sqlalchemy import func, or_, select, update

from crm.auth.models import User
from crm.contacts.models import Contact
from crm.db import skip_locked, utcnow
from crm.email.models import EmailStatus, OutboundEmail, TemplateKind
from crm.email.outbox import unsubscribe_url
from crm.email.service import NO_API_KEY, UNKNOWN_OUTCOME, blocked_reasons
from crm.extensions import db
from crm.i18n import gettext_in
from crm.leads.models import Lead
from crm.touches.models import Channel, Direction, Outcome, Touch
from crm.touches.service import log_touch, log_touches

log = logging.getLogger(__name__)

CUSTOM_ARG = "touchline_message_id"
CLAIM_SECONDS = 120          # a batch must be started within this; then it is someone else's
SENDING_LEASE_SECONDS = 600  # after this a row still in 'sending' reads "outcome unknown"
HTTP_TIMEOUT_SECONDS = 30
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
BATCH_SIZE = 50


@dataclass
class DrainReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    not_sent: int = 0
    suppressed: int = 0
    unknown: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed + self.not_sent + self.suppressed + self.unknown


@dataclass(frozen=True)
class Answer:
    """What came back from one Mail Send call."""

    kind: str  # "sent", "retry", "failed", "unknown"
    status_code: int | None = None
    message_id: str | None = None
    error: str = ""


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failed ones: 30 s, 1 min, 2 min … capped at an hour."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS))


def drain(now: datetime | None = None, *, limit: int | None = None, batch_size: int = BATCH_SIZE) -> DrainReport:
    """Send every due queued message (up to ``limit``); commits as it goes (see the module's rule)."""
    report = DrainReport()
    cutoff = now or utcnow()
    api_key = current_app.config.get("SENDGRID_API_KEY")
    client = _client(api_key) if api_key else None
    concurrency = max(int(current_app.config.get("SENDGRID_CONCURRENCY") or 1), 1)
    with _loaded_rows_survive_commits(), ThreadPoolExecutor(concurrency, thread_name_prefix="sendgrid") as pool:
        while limit is None or report.handled < limit:
            size = batch_size if limit is None else min(batch_size, limit - report.handled)
            batch, lease = claim_batch(cutoff, size, report, sending=client is not None)
            if batch is None:
                break
            send_batch(client, batch, lease, report, pool=pool, concurrency=concurrency)
    return report


@dataclass
class Claimed:
    """A claimed row with what sending it needs, loaded once per batch."""

    message: OutboundEmail
    contact: Contact | None
    user: User | None


@dataclass
class InFlight:
    claimed: Claimed
    attempts: int
    answer: Answer


def claim_batch(cutoff: datetime, size: int, report: DrainReport, *, sending: bool = True
                ) -> tuple[list[Claimed] | None, datetime]:
    """Claim up to ``size`` due queued rows for this sender; committed. None when nothing was due.

    Rows whose address is suppressed (or whose contact opted out of marketing) are
    settled here as 'suppressed'; with no API key every claimed row becomes 'not_sent'.
    """
    now = utcnow()
    lease = now + timedelta(seconds=CLAIM_SECONDS)
    due = (select(OutboundEmail)
           .where(OutboundEmail.status == EmailStatus.QUEUED, OutboundEmail.next_attempt_at <= cutoff,
                  or_(OutboundEmail.claimed_until.is_(None), OutboundEmail.claimed_until < now))
           .order_by(OutboundEmail.next_attempt_at, OutboundEmail.id).limit(size))
    messages = list(db.session.scalars(skip_locked(due, db.session).execution_options(populate_existing=True)))
    if not messages:
        db.session.commit()
        return None, lease
    if not sending:
        _settle_queued([m.id for m in messages], status=EmailStatus.NOT_SENT, claimed_until=None, last_error=NO_API_KEY)
        report.not_sent += len(messages)
        db.session.commit()
        return [], lease
    blocked = blocked_reasons(messages)
    for message_id, reason in blocked.items():  # suppressed since it was queued: it must not leave
        _settle_queued([message_id], status=EmailStatus.SUPPRESSED, claimed_until=None, last_error=reason)
    report.suppressed += len(blocked)
    messages = [m for m in messages if m.id not in blocked]
    _settle_queued([m.id for m in messages], claimed_until=lease)
    contacts = _by_id(Contact, {m.contact_id for m in messages})
    users = _by_id(User, {m.user_id for m in messages})
    db.session.commit()
    return [Claimed(m, contacts.get(m.contact_id), users.get(m.user_id)) for m in messages], lease


def send_batch(client: SendGridAPIClient, batch: list[Claimed], lease: datetime, report: DrainReport, *,
               pool: ThreadPoolExecutor | None = None, concurrency: int = 1) -> None:
    """Send a claimed batch, ``concurrency`` messages at a time.

    For each group: one commit marks its messages 'sending' (and records the previous
    group's answers), then its calls go out together. At most one group is ever in
    flight, so a crash can leave at most ``concurrency`` messages "outcome unknown".
    """
    in_flight: list[InFlight] = []
    for start in range(0, len(batch), max(concurrency, 1)):
        group = batch[start:start + max(concurrency, 1)]
        if in_flight:
            record_answers(in_flight, report)
        in_flight = []
        payloads = {}
        for claimed in group:
            try:
                payloads[claimed.message.id] = build_payload(claimed.message, getattr(claimed.contact, "locale", None))
            except Exception as exc:  # one message we cannot even build must not hold up (or lose) the others
                log.exception("cannot build the Mail Send request for outbound email %s", claimed.message.id)
                problem = ("The message contains something that looks like a SendGrid API key; not sent."
                           if isinstance(exc, ApiKeyIncludedException) else
                           f"Could not build the request: {type(exc).__name__}: {exc}")
                report.failed += len(_take(
                    [claimed.message.id], lease, status=EmailStatus.FAILED, claimed_until=None, last_error=problem))
        marked = _take(list(payloads), lease, status=EmailStatus.SENDING, attempts=OutboundEmail.attempts + 1,
                       claimed_until=utcnow() + timedelta(seconds=SENDING_LEASE_SECONDS))
        db.session.commit()  # 'sending' is on disk before SendGrid hears of these messages
        going = [c for c in group if c.message.id in marked]
        requests = [payloads[c.message.id] for c in going]
        if pool is None or len(going) < 2:
            answers = [call_sendgrid(client, payload) for payload in requests]
        else:
            answers = list(pool.map(call_sendgrid, [client] * len(requests), requests))
        in_flight = [InFlight(c, c.message.attempts + 1, a) for c, a in zip(going, answers, strict=True)]
    if in_flight:
        record_answers(in_flight, report)
    db.session.commit()


def _take(ids: list[int], lease: datetime, **values) -> set[int]:
    """Move rows we hold the live claim on; the ids moved (a row whose claim was lost is left alone)."""
    if not ids or utcnow() >= lease:
        return set()
    result = db.session.connection().execute(
        update(OutboundEmail)
        .where(OutboundEmail.id.in_(ids), OutboundEmail.status == EmailStatus.QUEUED,
               OutboundEmail.claimed_until == lease)
        .values(**values).returning(OutboundEmail.id))
    return set(result.scalars())


def _settle_queued(ids: list[int], **values) -> None:
    if ids:
        db.session.connection().execute(update(OutboundEmail).where(OutboundEmail.id.in_(ids)).values(**values))


def _settle_sending(message_id: int, **values) -> bool:
    """Record an answer, unless a SendGrid event has settled the row meanwhile (then False)."""
    result = db.session.connection().execute(
        update(OutboundEmail).where(OutboundEmail.id == message_id, OutboundEmail.status == EmailStatus.SENDING)
        .values(**values))
    return result.rowcount == 1


def call_sendgrid(client: SendGridAPIClient, payload: dict) -> Answer:
    """One v3 Mail Send call, classified. Never raises for what SendGrid or the network does."""
    try:
        response = client.client.mail.send.post(request_body=payload, timeout=HTTP_TIMEOUT_SECONDS)
    except HTTPError as exc:
        detail = sendgrid_error(exc.body)
        if exc.status_code == 429 or exc.status_code >= 500:
            return Answer("retry", exc.status_code, error=f"SendGrid answered {exc.status_code}: {detail}")
        return Answer("failed", exc.status_code, error=detail)
    except urllib.error.URLError as exc:
        # Raised while connecting or writing the request: SendGrid never got a whole request.
        return Answer("retry", error=f"Could not reach SendGrid: {exc.reason}")
    except Exception as exc:  # no answer after the request went out (timeout, reset): it may have been sent
        log.warning("no answer from SendGrid: %s", exc)
        return Answer("unknown", error=f"No answer from SendGrid ({type(exc).__name__}: {exc}); {UNKNOWN_OUTCOME}.")
    headers = response.headers
    message_id = headers.get("X-Message-Id") if headers is not None else None
    return Answer("sent", response.status_code, message_id=message_id)


def record_answers(in_flight: list[InFlight], report: DrainReport) -> None:
    """Write what SendGrid said about a group of messages (flushes; the caller commits)."""
    if not in_flight:
        return
    now = utcnow()
    sent = [f for f in in_flight if f.answer.kind == "sent"]
    touches = sent_touches([f.claimed for f in sent], at=now)
    for done in in_flight:
        message, answer, attempts = done.claimed.message, done.answer, done.attempts
        if answer.kind == "sent":
            touch_id = touches.get(message.id)
            if not _settle_sending(message.id, status=EmailStatus.SENT, sent_at=now, claimed_until=None, last_error="",
                                   provider_message_id=answer.message_id, touch_id=touch_id):
                # A SendGrid event settled it first; keep its status, add what only we know.
                _settle_queued([message.id], touch_id=func.coalesce(OutboundEmail.touch_id, touch_id),
                               provider_message_id=func.coalesce(OutboundEmail.provider_message_id, answer.message_id))
            report.sent += 1
        elif answer.kind == "retry" and attempts < current_app.config["SENDGRID_MAX_ATTEMPTS"]:
            retry_at = now + backoff(attempts)
            _settle_sending(message.id, status=EmailStatus.QUEUED, claimed_until=None, next_attempt_at=retry_at,
                            last_error=f"{answer.error} (attempt {attempts}; trying again after {retry_at:%H:%M:%S} UTC)")
            report.retrying += 1
        elif answer.kind in ("retry", "failed"):
            suffix = f" (gave up after {attempts} attempts)" if answer.kind == "retry" else ""
            _settle_sending(message.id, status=EmailStatus.FAILED, claimed_until=None, last_error=answer.error + suffix)
            report.failed += 1
        else:  # unknown: stays 'sending', never picked up again (see the module's rule)
            _settle_sending(message.id, last_error=answer.error)
            report.unknown += 1
            report.errors.append(answer.error)
    db.session.flush()


def sent_touches(claimed: list[Claimed], *, at: datetime) -> dict[int, int]:
    """Outbound email touches for messages SendGrid accepted: {message id: touch id}."""
    entries, ids = [], []
    for item in claimed:
        message = item.message
        if message.contact_id is None or item.contact is None:
            continue
        entries.append(_touch_entry(message, item.contact, item.user, at))
        ids.append(message.id)
    return {message_id: logged.touch.id for message_id, logged in zip(ids, log_touches(entries), strict=True)}


def log_sent_touch(message: OutboundEmail, *, at: datetime | None = None) -> Touch | None:
    """The outbound email touch for one message (once per message: the external id is ours)."""
    if message.contact_id is None:
        return None
    contact = db.session.get(Contact, message.contact_id)
    user = db.session.get(User, message.user_id) if message.user_id else None
    return log_touch(**_touch_entry(message, contact, user, at or message.sent_at or utcnow())).touch


def _touch_entry(message: OutboundEmail, contact: Contact, user: User | None, at: datetime) -> dict:
    # Read the lead fresh: logging a touch moves its first/last touch times.
    lead = db.session.get(Lead, message.lead_id, populate_existing=True) if message.lead_id else None
    return {"contact": contact, "lead": lead if lead is not None and lead.contact_id == contact.id else None,
            "user": user, "channel": Channel.EMAIL, "direction": Direction.OUTBOUND, "outcome": Outcome.SENT,
            "occurred_at": at, "provider": "sendgrid", "external_id": str(message.id),
            "subject": message.subject[:300], "body": message.body_text}


def _by_id(model, ids: set) -> dict:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}


@contextmanager
def _loaded_rows_survive_commits():
    """Keep the batch's rows and contacts loaded across the per-message commits (no reload per message).

    The sender changes rows only with UPDATE statements guarded by status, never through these objects.
    """
    session = db.session()
    before = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = before


# --- the Mail Send request -----------------------------------------------------------------------

def build_payload(message: OutboundEmail, locale: str | None = None) -> dict:
    """The v3 Mail Send body: our id in custom_args, Reply-To with the token, one-click unsubscribe.

    ``locale`` is the contact's: the unsubscribe line we add is in their language.
    """
    from_name, from_address = parseaddr(message.from_email)
    text, html = message.body_text, message.body_html
    headers = {"Message-ID": thread_message_id(message)}
    if message.kind == TemplateKind.MARKETING and message.reply_token:
        link = unsubscribe_url(message.reply_token)
        headers["List-Unsubscribe"] = f"<{link}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        word = gettext_in(locale, "Unsubscribe")
        if link not in text:
            text = f"{text}\n\n--\n{word}: {link}"
        if link not in html:
            html = f'{html}\n<p style="font-size:12px;color:#666"><a href="{link}">{escape(word)}</a></p>'
    mail = Mail(from_email=From(from_address, from_name or None), to_emails=To(message.to_email),
                subject=message.subject, plain_text_content=text, html_content=html or None)
    if message.reply_to:
        mail.reply_to = ReplyTo(message.reply_to)
    mail.custom_arg = [CustomArg(CUSTOM_ARG, str(message.id))]
    mail.header = [Header(name, value) for name, value in headers.items()]
    return mail.get()


def thread_message_id(message: OutboundEmail) -> str:
    """Our Message-ID: a reply's In-Reply-To carries it back to this message."""
    domain = current_app.config["INBOUND_REPLY_DOMAIN"]
    return f"<touchline.{message.id}.{message.reply_token or 'x'}@{domain}>"


def sendgrid_error(body) -> str:
    """SendGrid's own error text from an error body ({"errors": [{"field", "message"}]})."""
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    try:
        errors = json.loads(raw).get("errors") or []
        parts = [f"{e['field']}: {e['message']}" if e.get("field") else str(e.get("message", "")) for e in errors]
        text = "; ".join(p for p in parts if p)
    except (ValueError, AttributeError, TypeError, KeyError):
        text = ""
    return (text or raw.strip() or "no details")[:2000]


def _client(api_key: str) -> SendGridAPIClient:
    return SendGridAPIClient(api_key, host=current_app.config["SENDGRID_API_HOST"].rstrip("/"))
