"""Email templates rendered in a Jinja sandbox with only contact, lead, rep and company fields.

Templates see plain dictionaries, never model objects, so a template cannot reach
the database or anything else; a name outside those fields fails at save time.
"""

from __future__ import annotations

import functools

from flask_babel import gettext as _
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from crm.errors import ValidationFailed

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)


@functools.lru_cache(maxsize=512)
def _compiled(source: str):
    """One compile per template text: a cadence run renders the same follow-up for thousands of leads."""
    return _env.from_string(source)

SAMPLE_CONTEXT = {
    "contact": {"first_name": "Ana", "last_name": "Sousa", "full_name": "Ana Sousa", "email": "ana.sousa@example.pt",
                "phone": "+351912345678", "company": "Sousa & Filhos"},
    "lead": {"id": 1, "title": "Ana Sousa", "stage": "discover", "value": "1200.00", "currency": "EUR",
             "campaign": "Spring offer", "source": "web"},
    "rep": {"name": "Rita Reis", "email": "rita@touchline.example", "phone": ""},
    "company": {"name": "Touchline"},
    "unsubscribe_url": "https://touchline.example/unsubscribe/sample",
}


def template_context(contact=None, lead=None, rep=None, *, company_name: str = "Touchline",
                     unsubscribe_url: str = "") -> dict:
    """The only values a template may use, copied out of the records."""
    return {
        "contact": {
            "first_name": contact.first_name if contact else "", "last_name": contact.last_name if contact else "",
            "full_name": contact.full_name if contact else "", "email": (contact.email or "") if contact else "",
            "phone": (contact.phone or "") if contact else "",
            "company": contact.account.name if contact and contact.account else "",
        },
        "lead": {
            "id": lead.id if lead else None, "title": lead.title if lead else "",
            "stage": lead.stage.value if lead else "", "value": str(lead.value or "") if lead else "",
            "currency": lead.currency if lead else "", "campaign": lead.campaign.name if lead and lead.campaign else "",
            "source": lead.source.name if lead and lead.source else "",
        },
        "rep": {"name": rep.name if rep else "", "email": rep.email if rep else "", "phone": ""},
        "company": {"name": company_name},
        "unsubscribe_url": unsubscribe_url,
    }


def render(subject: str, body: str, context: dict) -> tuple[str, str, str]:
    """(subject, text body, HTML body); raises ValidationFailed naming the broken part."""
    out = []
    for field, source in (("subject", subject), ("body", body)):
        try:
            out.append(_compiled(source).render(context))
        except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
            # Runtime errors too ({{ 1/0 }}, a range the sandbox refuses): a bad template, not a crash.
            raise ValidationFailed(_("The template's %(field)s cannot be used: %(problem)s", field=field, problem=exc),
                                   fields={field: str(exc)}) from exc
    subject_text = " ".join(out[0].split())
    html = "<br>\n".join(str(escape(line)) for line in out[1].splitlines())
    return subject_text, out[1], f"<div>{html}</div>"


def check_template(subject: str, body: str) -> None:
    """Refuse a template that uses anything but the allowed fields (rendered with a sample)."""
    render(subject, body, SAMPLE_CONTEXT)
