"""A realistic demo organisation: people, campaigns, ~2,000 leads and 90 days of history.

Deterministic (seeded random), and a second run adds nothing. Leads and their
moves go through the lead services, so the demo obeys the same rules as users.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import phonenumbers
from sqlalchemy import select

from crm.auth.models import Role, User
from crm.auth.service import create_user
from crm.cadences import service as cadences
from crm.cadences.defaults import ensure_defaults
from crm.contacts.models import Account, Contact
from crm.db import utcnow
from crm.demo.people import COUNTRIES, email_local
from crm.extensions import db
from crm.handoffs.models import Handoff, HandoffStatus
from crm.leads import service as leads
from crm.leads.models import Campaign, LostReason, Source, Stage
from crm.tasks.models import Task, TaskKind, TaskStatus
from crm.touches.models import Channel, Direction, Outcome, Survey, Touch

DEMO_PASSWORD = "touchline-demo"  # noqa: S105 (public demo password, printed by make run)
TEAM = "Lisbon inside sales"
DEMO_USERS = [
    ("admin@touchline.example", "Alex Admin", Role.ADMIN, "Europe/Lisbon", "en", "0"),
    ("manager@touchline.example", "Marta Manager", Role.MANAGER, "Europe/Lisbon", "pt", "38"),
    ("rita@touchline.example", "Rita Reis", Role.REP, "Europe/Lisbon", "pt", "22"),
    ("ion@touchline.example", "Ion Popescu", Role.REP, "Europe/Bucharest", "ro", "18"),
    ("olga@touchline.example", "Olga Petrova", Role.REP, "Europe/Lisbon", "ru", "20"),
    ("kenji@touchline.example", "Kenji Mori", Role.REP, "Asia/Tokyo", "en", "24"),
    ("sam@touchline.example", "Sam Carter", Role.REP, "Europe/London", "en", "23"),
    ("filipa@touchline.example", "Filipa Field", Role.FIELD, "Europe/Lisbon", "pt", "45"),
    ("george@touchline.example", "George Field", Role.FIELD, "Europe/London", "en", "47"),
]
LOST_REASONS = ["No budget", "Chose a competitor", "No need", "Bad timing", "Unreachable", "Not the decision maker"]
SOURCES = [("Web form", "4500"), ("Inbound call", "0"), ("Referral", "1200"), ("Trade fair", "9000"),
           ("Purchased list", "3000"), ("Inbound email", "0")]
CAMPAIGNS = [("Spring fibre offer", "12000", "Hello, this is {rep} from Touchline. You asked about our fibre offer…"),
             ("Webinar follow-up", "2500", "Thank you for joining our webinar. What made you sign up?"),
             ("Partner referrals", "1500", "{partner} suggested we talk. Is now a good moment?"),
             ("Win-back 2026", "4000", "We have missed you. Can I ask what changed since you left?")]
# Where leads end up: (stage, status, share).
OUTCOMES = [(Stage.DISCOVER, "open", 30), (Stage.NURTURE, "open", 24), (Stage.PROPOSE, "open", 11),
            (Stage.CLOSE, "open", 7), (Stage.CLOSE, "won", 13), (Stage.DISCOVER, "lost", 7), (Stage.NURTURE, "lost", 8)]
CALL_OUTCOMES = [Outcome.CONNECTED, Outcome.NO_ANSWER, Outcome.NO_ANSWER, Outcome.BUSY, Outcome.VOICEMAIL,
                 Outcome.CONNECTED, Outcome.WRONG_NUMBER]


def already_seeded() -> bool:
    return db.session.scalar(select(User.id).where(User.email == DEMO_USERS[0][0])) is not None


def seed(leads_count: int = 2000, *, rng_seed: int = 7, progress: Callable[[int], None] = lambda n: None) -> dict:
    """Create the demo organisation unless it exists; returns what was made."""
    if already_seeded():
        return {"created": False}
    rng = random.Random(rng_seed)
    users = _users()
    reasons = _reference_data()
    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.id)).all()
    sources = db.session.scalars(select(Source).order_by(Source.id)).all()
    reps = [u for u in users if u.role == Role.REP]
    field = [u for u in users if u.role == Role.FIELD]
    manager = next(u for u in users if u.role == Role.MANAGER)
    phones: set[str] = set()
    now = utcnow()
    accounts: dict[str, Account] = {}
    for i in range(leads_count):
        with db.session.no_autoflush:  # create_lead flushes what it needs; lookups need not
            _one_lead(rng, i, now, reps, field, manager, campaigns, sources, reasons, phones, accounts)
        if i % 100 == 99:
            db.session.flush()
            db.session.expunge_all()  # keep memory flat; users are re-read below
            reps = [db.session.merge(u, load=False) for u in reps]
            field = [db.session.merge(u, load=False) for u in field]
            manager = db.session.merge(manager, load=False)
            campaigns = [db.session.merge(c, load=False) for c in campaigns]
            sources = [db.session.merge(s, load=False) for s in sources]
            reasons = [db.session.merge(r, load=False) for r in reasons]
            accounts = {name: db.session.merge(a, load=False) for name, a in accounts.items()}
            progress(100)
    progress(leads_count % 100)
    db.session.flush()
    cadences.stop_finished_leads(now)  # won, lost and handed-off demo leads are out of their cadence
    while cadences.run_due_steps(now):  # follow-up emails the demo's unanswered calls have made due
        db.session.flush()
    return {"created": True, "leads": leads_count, "users": len(users)}


def _users() -> list[User]:
    return [create_user(email, DEMO_PASSWORD, role, name=name, team=None if role == Role.ADMIN else TEAM,
                        timezone=zone, locale=locale, hourly_cost=Decimal(cost))
            for email, name, role, zone, locale, cost in DEMO_USERS]


def _reference_data() -> list[LostReason]:
    reasons = [LostReason(label=label) for label in LOST_REASONS]
    db.session.add_all(reasons)
    db.session.add_all(Source(name=name, spend=Decimal(spend)) for name, spend in SOURCES)
    team_id = db.session.scalar(select(User.team_id).where(User.role == Role.MANAGER))
    db.session.add_all(Campaign(name=name, spend=Decimal(spend), call_script=script, team_id=team_id)
                       for name, spend, script in CAMPAIGNS)
    ensure_defaults()  # the default cadence and its follow-up email, as `crm migrate` makes them
    db.session.flush()
    return reasons


def _phone(rng: random.Random, country: dict, taken: set[str]) -> str:
    prefix, seconds, rest = country["mobile"]
    while True:
        raw = prefix + rng.choice(seconds) + "".join(rng.choice("0123456789") for _ in range(rest))
        number = phonenumbers.parse(raw)
        if phonenumbers.is_valid_number(number) and raw not in taken:
            taken.add(raw)
            return raw


def _one_lead(rng, i, now, reps, field, manager, campaigns, sources, reasons, phones, accounts) -> None:
    code = rng.choices(list(COUNTRIES), weights=[c["weight"] for c in COUNTRIES.values()])[0]
    country = COUNTRIES[code]
    first, last = rng.choice(country["first"]), rng.choice(country["last"])
    company = rng.choice(country["companies"]) if rng.random() < 0.7 else None
    account = accounts.get(company) if company else None
    if company and account is None:
        account = accounts[company] = Account(name=company, country=code)
        db.session.add(account)
    contact = Contact(first_name=first, last_name=last, email=f"{email_local(first, last)}.{i}@example.{code.lower()}",
                      phone=_phone(rng, country, phones), timezone=country["zone"], locale=country["locale"],
                      country=code, account=account, do_not_call=rng.random() < 0.03,
                      email_opt_out=rng.random() < 0.04, team_id=manager.team_id)
    db.session.add(contact)
    created = now - timedelta(days=rng.uniform(0, 90), minutes=rng.randint(0, 600))
    stage, status, _ = rng.choices(OUTCOMES, weights=[o[2] for o in OUTCOMES])[0]
    owner = rng.choice(reps) if rng.random() > 0.06 else None  # a few wait in the pool
    lead = leads.create_lead(contact, actor=owner or manager, owner=owner, team_id=manager.team_id,
                             source=rng.choice(sources).name, campaign=rng.choice(campaigns),
                             value=rng.choice([None, 900, 1500, 2400, 4800, 12000]), currency="EUR",
                             score=rng.randint(0, 100), created_at=created)
    _history(rng, lead, contact, owner or rng.choice(reps), created, now, stage, status, field, reasons)


def _history(rng, lead, contact, rep, created, now, stage, status, field, reasons) -> None:
    span = max((now - created).total_seconds(), 3600)
    moments = sorted(created + timedelta(seconds=rng.uniform(60, span)) for _ in range(rng.randint(1, 9)))
    for at in moments:
        _touch(rng, lead, contact, rep, at)
    steps = {Stage.DISCOVER: 0, Stage.NURTURE: 1, Stage.PROPOSE: 2, Stage.CLOSE: 3}[stage]
    at = created
    for target in (Stage.NURTURE, Stage.PROPOSE, Stage.CLOSE)[:steps]:
        at = at + (now - at) * rng.uniform(0.1, 0.4)
        if lead.stage == target:  # the cadence already moved a lead never reached to nurture
            continue
        at = max(at, lead.stage_changed_at)
        if target == Stage.PROPOSE:
            _handoff(rng, lead, rep, rng.choice(field), at)
        leads.change_stage(lead, target, actor=rep, at=at)
    if status == "won":
        leads.mark_won(lead, actor=lead.field_owner or rep, value=lead.value or 2400, at=at + (now - at) * 0.5)
    elif status == "lost":
        leads.mark_lost(lead, actor=rep, reason=rng.choice(reasons).id, at=at + (now - at) * 0.5)
    elif rng.random() < 0.35 and lead.owner_id:
        due = now + timedelta(hours=rng.uniform(-48, 96))
        db.session.add(Task(kind=TaskKind.CALL, title="Call back", lead=lead, contact_id=contact.id,
                            assignee_id=rep.id, created_by_id=rep.id, due_at=due, status=TaskStatus.OPEN,
                            origin="demo"))


def _touch(rng, lead, contact, rep, at) -> None:
    channel = rng.choices(list(Channel), weights=[55, 20, 9, 6, 6, 4])[0]
    inbound = rng.random() < (0.25 if channel == Channel.CALL else 0.35)
    touch = Touch(contact=contact, lead=lead, user=rep, channel=channel, campaign_id=lead.campaign_id,
                  direction=Direction.INBOUND if inbound else Direction.OUTBOUND, occurred_at=at, provider="demo")
    if channel == Channel.CALL:
        touch.outcome = rng.choice(CALL_OUTCOMES)
        if inbound:
            touch.queue_seconds = rng.randint(2, 140)
            touch.queued_at = at
            touch.outcome = Outcome.ABANDONED if rng.random() < 0.08 else Outcome.CONNECTED
            if touch.outcome == Outcome.CONNECTED:
                touch.answered_at = at + timedelta(seconds=touch.queue_seconds)
        if touch.outcome == Outcome.CONNECTED:
            touch.talk_seconds, touch.hold_seconds = rng.randint(40, 900), rng.choice([0, 0, 15, 45])
            touch.wrap_seconds = rng.randint(10, 120)
            touch.body = rng.choice(["Interested, wants a proposal.", "Asked for a call next week.",
                                     "Comparing with the current provider.", "Needs the director's approval."])
        touch.ani, touch.dnis = (contact.phone, "+351210000000") if inbound else ("+351210000000", contact.phone)
    elif channel == Channel.EMAIL:
        touch.outcome = Outcome.RECEIVED if inbound else rng.choice(
            [Outcome.DELIVERED, Outcome.OPENED, Outcome.CLICKED, Outcome.REPLIED, Outcome.BOUNCED])
        touch.subject = "Re: your enquiry" if inbound else "Following up on your enquiry"
    elif channel == Channel.MEETING:
        touch.outcome = rng.choice([Outcome.HELD, Outcome.HELD, Outcome.NO_SHOW])
    else:
        touch.outcome = Outcome.RECEIVED if inbound else Outcome.DELIVERED
        touch.platform = {Channel.SOCIAL: rng.choice(["linkedin", "facebook"]), Channel.CHAT: "web"}.get(channel)
        touch.body = "Hi, can you tell me more about the offer?" if inbound else "Of course, here are the details."
    db.session.add(touch)
    cadences.on_touch(touch, now=at)  # the demo's calls move its leads through the cadence like real ones
    lead.last_touch_at = max(lead.last_touch_at or at, at)
    if touch.direction == Direction.OUTBOUND and (lead.first_touch_at is None or at < lead.first_touch_at):
        lead.first_touch_at = at
    if channel == Channel.CALL and touch.outcome == Outcome.CONNECTED and rng.random() < 0.3:
        db.session.flush()
        db.session.add(Survey(touch_id=touch.id, contact_id=contact.id, user_id=rep.id, token=f"demo-{touch.id}",
                              sent_at=at, answered_at=at + timedelta(hours=2), score=rng.choice([5, 5, 4, 4, 3, 2])))


def _handoff(rng, lead, rep, field_rep, at) -> None:
    lead.field_owner = field_rep
    db.session.add(Handoff(lead=lead, from_user_id=rep.id, to_user_id=field_rep.id, status=HandoffStatus.ACCEPTED,
                           budget="Approved for this quarter", budget_met=True, authority="Talks to the director",
                           authority_met=rng.random() < 0.7, need="Replace current provider", need_met=True,
                           timeline="Within 2 months", timeline_met=True, notes="Prefers mornings.",
                           created_at=at - timedelta(hours=rng.uniform(2, 30)), submitted_at=at - timedelta(hours=20),
                           decided_at=at))
