"""What a person reads for a stored enum value: ``label(lead.stage)`` → "Discover" / "Descoberta".

Enums are stored as stable English words (``no_answer``); pages, flashes and emails show
these translated labels instead. One table for every enum, keyed by the enum's class name,
so the same word in two enums ("email" as a channel and as a task kind) can read differently.
A value missing here (a feature's new enum) still reads sensibly: its words, capitalised.
"""

from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp

LABELS: dict[str, dict[str, object]] = {
    # "Close" is also a button: the stages carry a context, so each can be translated on its own.
    "Stage": {"discover": _lp("stage", "Discover"), "nurture": _lp("stage", "Nurture"), "propose": _lp("stage", "Propose"),
              "close": _lp("stage", "Close")},
    "LeadStatus": {"open": _l("Open"), "won": _l("Won"), "lost": _l("Lost")},
    "Role": {"rep": _l("Inside-sales rep"), "field": _l("Field-sales rep"), "manager": _l("Manager"), "admin": _l("Admin")},
    "HandoffRule": {"manual": _l("The inside rep's choice"), "territory": _l("Territory (contact's country)"),
                    "round_robin": _l("Round-robin among field reps")},
    "Channel": {"call": _l("Call"), "email": _l("Email"), "chat": _l("Chat"), "social": _l("Social"), "sms": _l("SMS"),
                "meeting": _l("Meeting")},
    "Direction": {"inbound": _l("inbound"), "outbound": _l("outbound")},
    "Outcome": {
        "queued": _l("queued"), "connected": _l("connected"), "no_answer": _l("no answer"), "busy": _l("busy"),
        "voicemail": _l("voicemail"), "wrong_number": _l("wrong number"), "abandoned": _l("abandoned"),
        "sent": _l("sent"), "delivered": _l("delivered"), "deferred": _l("deferred"), "opened": _l("opened"),
        "clicked": _l("clicked"), "replied": _l("replied"), "bounced": _l("bounced"), "dropped": _l("dropped"),
        "spam": _l("marked as spam"), "unsubscribed": _l("unsubscribed"), "failed": _l("failed"),
        "received": _l("received"), "held": _l("held"), "no_show": _l("no-show"),
    },
    "EmailStatus": {
        "queued": _l("queued"), "sending": _l("sending"), "not_sent": _l("not sent"), "sent": _l("sent"),
        "deferred": _l("deferred"), "delivered": _l("delivered"), "opened": _l("opened"), "clicked": _l("clicked"),
        "bounced": _l("bounced"), "dropped": _l("dropped"), "spam": _l("marked as spam"),
        "unsubscribed": _l("unsubscribed"), "failed": _l("failed"), "suppressed": _l("suppressed"),
    },
    "TemplateKind": {"transactional": _l("Transactional"), "marketing": _l("Marketing")},
    "ImportStatus": {"mapping": _l("checking the columns"), "running": _l("running"), "done": _l("done"),
                     "failed": _l("failed")},
    "TaskKind": {"call": _l("Call"), "email": _l("Email"), "follow_up": _l("Follow-up"),
                 "retention_callback": _l("Retention callback"), "handoff_review": _l("Hand-off review")},
    "TaskStatus": {"open": _l("open"), "done": _l("done"), "cancelled": _l("cancelled")},
    "ImportField": {
        "first_name": _l("First name"), "last_name": _l("Last name"), "full_name": _l("Full name"), "email": _l("Email"),
        "phone": _l("Phone"), "account": _l("Company"), "country": _l("Country"), "timezone": _l("Time zone"),
        "locale": _l("Language code"), "source": _l("Source"), "campaign": _l("Campaign"), "value": _l("Value"),
        "currency": _l("Currency"), "title": _l("Title"), "owner_email": _l("Owner's email"),
        "do_not_call": _l("Do not call"), "email_opt_out": _l("Opted out of marketing email"),
    },
    "HandoffStatus": {"awaiting_approval": _l("awaiting approval"), "pending": _l("pending"), "accepted": _l("accepted"),
                      "rejected": _l("rejected"), "cancelled": _l("cancelled")},
    # Why a lead's cadence stopped (CadenceEnrollment.ended_reason): "Cadence ended: connected".
    "CadenceEnd": {"connected": _l("connected"), "replied": _l("replied"), "met": _lp("cadence end", "met"),
                   "reached": _lp("cadence end", "reached"), "handoff": _lp("cadence end", "handed off"),
                   "closed": _lp("cadence end", "won or lost"), "no_steps": _lp("cadence end", "no steps")},
}


def label(value: object, kind: str | None = None) -> str:
    """The translated label of an enum member, or of a plain value of enum ``kind`` ("Stage")."""
    if value is None or value == "":
        return ""
    if isinstance(value, enum.Enum):
        kind, value = type(value).__name__, value.value
    text = LABELS.get(kind or "", {}).get(str(value))
    if text is not None:
        return str(text)
    return str(value).replace("_", " ")
