"""The practice's default cadence and its follow-up email, put in place by `crm migrate` and the demo seed.

Call, call, call on different days and at different times of day, then, to a lead never
reached, the ``follow_up`` email (English, Portuguese, Romanian, Russian). Nothing is
overwritten: an admin's edits, renames or deletions stay as they are.
"""

from __future__ import annotations

from datetime import time

from sqlalchemy import func, select

from crm.audit.service import record
from crm.cadences.models import Cadence, CadenceStep
from crm.email.models import EmailTemplate, TemplateKind
from crm.extensions import db
from crm.touches.models import Channel

DEFAULT_NAME = "Three calls, then an email"
FOLLOW_UP_KEY = "follow_up"
# (day offset, window start, window end, channel, template, only if unreached)
DEFAULT_STEPS = [
    (0, time(9, 0), time(12, 0), Channel.CALL, None, False),  # the first morning
    (1, time(14, 0), time(17, 0), Channel.CALL, None, False),  # the next afternoon
    (3, time(17, 0), time(20, 0), Channel.CALL, None, False),  # early evening, two days later
    (3, time(9, 0), time(20, 0), Channel.EMAIL, FOLLOW_UP_KEY, True),  # after the third unanswered call
]
FOLLOW_UP_TEMPLATES = {
    "en": ("Following up, {{ contact.first_name }}",
           "Hello {{ contact.first_name }},\n\nI tried to reach you by phone a few times. When would be a good "
           "moment to talk?\n\nBest regards,\n{{ rep.name }}"),
    "pt": ("Seguimento, {{ contact.first_name }}",
           "Olá {{ contact.first_name }},\n\nTentei contactá-lo por telefone algumas vezes. Quando seria um bom "
           "momento para falarmos?\n\nCumprimentos,\n{{ rep.name }}"),
    "ro": ("Revenire, {{ contact.first_name }}",
           "Bună ziua, {{ contact.first_name }},\n\nAm încercat să vă contactez telefonic de câteva ori. Când ar fi "
           "un moment potrivit să vorbim?\n\nCu stimă,\n{{ rep.name }}"),
    "ru": ("Повторное обращение, {{ contact.first_name }}",
           "Здравствуйте, {{ contact.first_name }}!\n\nЯ несколько раз пытался дозвониться до вас. Когда вам удобно "
           "поговорить?\n\nС уважением,\n{{ rep.name }}"),
}


def ensure_follow_up_templates() -> int:
    """Add the follow-up email in each language that has none yet; how many were added."""
    have = set(db.session.scalars(select(EmailTemplate.locale).where(EmailTemplate.key == FOLLOW_UP_KEY)))
    added = 0
    for locale, (subject, body) in FOLLOW_UP_TEMPLATES.items():
        if locale in have:
            continue
        db.session.add(EmailTemplate(key=FOLLOW_UP_KEY, locale=locale, name="Follow-up after unanswered calls",
                                     kind=TemplateKind.MARKETING, subject=subject, body=body))
        added += 1
    db.session.flush()
    return added


def ensure_default_cadence() -> Cadence | None:
    """Create the default cadence when there is no cadence at all; None when cadences already exist."""
    if db.session.scalar(select(func.count()).select_from(Cadence)):
        return None
    cadence = Cadence(name=DEFAULT_NAME, is_default=True, active=True)
    cadence.steps = [CadenceStep(position=i, day_offset=day, window_start=start, window_end=end, channel=channel,
                                 template_key=template, only_if_unreached=unreached)
                     for i, (day, start, end, channel, template, unreached) in enumerate(DEFAULT_STEPS)]
    db.session.add(cadence)
    db.session.flush()
    record(None, "cadence.created", cadence, {"name": DEFAULT_NAME, "seeded": True})
    return cadence


def ensure_defaults() -> dict:
    """Both of the above; safe to run on every `crm migrate`."""
    templates = ensure_follow_up_templates()
    cadence = ensure_default_cadence()
    return {"templates": templates, "cadence": cadence.name if cadence else None}
