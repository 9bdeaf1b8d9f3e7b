"""CSAT surveys: an email after a connected call or a replied chat, answered 1–5 on a public page.

The csat_surveys job (jobs/csat_surveys.py) finds recent touches that deserve a survey
and sends one through the outbox (key f"csat:{touch_id}", so a rerun never sends twice),
at most once per contact per CSAT_SURVEY_EVERY_DAYS, never to a contact who opted out.
The page /survey/<token> records the first answer and keeps it; old tokens answer 404.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import selectinload

from crm.contacts.models import Contact
from crm.db import utcnow
from crm.email.models import EmailTemplate, TemplateKind
from crm.email.outbox import EmailBlocked, queue_email
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.i18n import in_language
from crm.touches.models import Channel, Outcome, Survey, Touch

log = logging.getLogger(__name__)

TEMPLATE_KEY = "csat_survey"
LOOKBACK = timedelta(days=2)  # touches older than this are too old to ask about
BATCH = 500


def survey_url(token: str) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/survey/{token}"


def _every() -> timedelta:
    return timedelta(days=int(current_app.config.get("CSAT_SURVEY_EVERY_DAYS", 30)))


def _valid_for() -> timedelta:
    return timedelta(days=int(current_app.config.get("CSAT_SURVEY_VALID_DAYS", 14)))


def surveyable_touches(now: datetime):
    """Connected calls and replied chats of the last two days, with no survey, to contacts we may ask."""
    recent_survey = exists().where(Survey.contact_id == Touch.contact_id, Survey.sent_at > now - _every())
    return (select(Touch).join(Contact, Contact.id == Touch.contact_id)
            .where(or_(and_(Touch.channel == Channel.CALL, Touch.outcome == Outcome.CONNECTED),
                       and_(Touch.channel == Channel.CHAT, Touch.outcome == Outcome.REPLIED)),
                   Touch.occurred_at >= now - LOOKBACK, Touch.occurred_at <= now,
                   ~exists().where(Survey.touch_id == Touch.id), ~recent_survey,
                   Contact.email.is_not(None), Contact.email != "", Contact.email_opt_out.is_(False))
            .order_by(Touch.occurred_at.desc(), Touch.id.desc()).limit(BATCH)
            .options(selectinload(Touch.contact), selectinload(Touch.lead), selectinload(Touch.user)))


def send_due_surveys(now: datetime | None = None) -> int:
    """Queue a survey for each surveyable touch (the newest per contact); returns how many."""
    now = now or utcnow()
    asked: set[int] = set()
    sent = 0
    for touch in db.session.scalars(surveyable_touches(now)).all():
        if touch.contact_id in asked:
            continue
        asked.add(touch.contact_id)
        if send_survey(touch, now) is not None:
            sent += 1
    return sent


def send_survey(touch: Touch, now: datetime | None = None) -> Survey | None:
    """One survey for ``touch``: a Survey row and its email, or None when the contact may not be emailed."""
    contact = touch.contact
    if contact.email_opt_out or not contact.email:
        return None
    survey = Survey(touch_id=touch.id, contact_id=contact.id, user_id=touch.user_id,
                    token=secrets.token_urlsafe(32), sent_at=now or utcnow())
    subject, body = _wording(contact)
    try:
        with db.session.begin_nested():
            db.session.add(survey)
            db.session.flush()
            queue_email(idempotency_key=f"csat:{touch.id}", contact=contact, lead=touch.lead, user=touch.user,
                        template_key=TEMPLATE_KEY if _has_template() else None, subject=subject, body=body,
                        kind=TemplateKind.MARKETING, extra_context={"survey_url": survey_url(survey.token)})
    except EmailBlocked as exc:
        log.info("no CSAT survey for touch %s: %s", touch.id, exc.message)
        return None
    return survey


def _has_template() -> bool:
    return db.session.scalar(select(EmailTemplate.id).where(EmailTemplate.key == TEMPLATE_KEY).limit(1)) is not None


def _wording(contact: Contact) -> tuple[str, str]:
    """The built-in survey email in the contact's language (an admin's csat_survey template wins)."""
    with in_language(contact.locale):  # the survey goes to the contact
        subject = _("How did we do?")
        body = "\n\n".join([
            _("Hello {{ contact.first_name }},"),
            _("You spoke with {{ rep.name or company.name }} recently. How satisfied were you, from 1 (not at all) "
              "to 5 (very)? One click is enough:"),
            "{{ survey_url }}",
            _("Thank you. To stop these emails: {{ unsubscribe_url }}"),
        ])
    return subject, body


def find_open_survey(token: str, now: datetime | None = None) -> Survey | None:
    """The survey with this token, unless it is unknown or older than CSAT_SURVEY_VALID_DAYS."""
    if not token or len(token) > 64:
        return None
    survey = db.session.scalar(select(Survey).where(Survey.token == token))
    if survey is None or survey.sent_at < (now or utcnow()) - _valid_for():
        return None
    return survey


def answer_survey(survey: Survey, *, score: int, comment: str = "", now: datetime | None = None) -> Survey:
    """Record the answer; a survey already answered keeps its first answer."""
    if survey.answered_at is not None:
        return survey
    if not 1 <= score <= 5:
        raise ValidationFailed(_("A score from 1 to 5."), fields={"score": _("1 to 5.")})
    survey.score, survey.comment, survey.answered_at = score, comment.strip()[:2000], now or utcnow()
    db.session.flush()
    return survey
