"""Who may see and change what. The only place such rules live.

Every rule is a SQL condition, so lists are scoped in the database and a
single record is checked with the same condition: the rule is written once.
A record the user may not see answers NotFound (404), exactly like a missing one.

- rep: leads they own, and the unassigned pool of their team (or of no team)
- field: leads whose field owner they are, or that are handed off to them
- manager: leads of their team (by the lead's team or its owners' team)
- admin: everything
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, false, or_, select, true

from crm.auth.models import Role, User
from crm.contacts.models import Contact
from crm.email.models import OutboundEmail
from crm.errors import AccessDenied, NotFound
from crm.extensions import db
from crm.handoffs.models import Handoff
from crm.leads.models import Lead, LeadStatus
from crm.tasks.models import Task


@dataclass(frozen=True)
class _Who:
    """What the rules below read of a user: the key under which each user's conditions are kept."""

    id: int | None
    role: Role
    team_id: int | None


def _per_user(rule):
    """Build ``rule``'s SQL condition once per user (id, role, team): SQL expressions are immutable, so the
    same one serves every request of that user instead of being rebuilt each time. A change of role or team
    is a new key."""
    cached = functools.lru_cache(maxsize=2048)(rule)

    @functools.wraps(rule)
    def condition(user: User):
        return cached(_Who(user.id, user.role, user.team_id))

    return condition


def _team_members(team_id: int | None):
    return select(User.id).where(User.team_id == team_id).scalar_subquery()


@_per_user
def lead_visibility(user: User):
    """The condition on Lead for leads ``user`` may see."""
    if user.role == Role.ADMIN:
        return true()
    if user.role == Role.MANAGER:
        if user.team_id is None:
            return false()
        members = _team_members(user.team_id)
        return or_(Lead.team_id == user.team_id, Lead.owner_id.in_(members), Lead.field_owner_id.in_(members))
    if user.role == Role.FIELD:
        handed = exists().where(Handoff.lead_id == Lead.id, Handoff.to_user_id == user.id, handoff_reached_field())
        return or_(Lead.field_owner_id == user.id, handed)
    pool_team = Lead.team_id.is_(None) if user.team_id is None else or_(
        Lead.team_id == user.team_id, Lead.team_id.is_(None)
    )
    pool = and_(Lead.owner_id.is_(None), Lead.status == LeadStatus.OPEN, pool_team)
    # A change here changes the contacts' access keys too (contact_search_keys; migration 0018's triggers).
    return or_(Lead.owner_id == user.id, pool)


def lead_editability(user: User):
    """Leads ``user`` may change: as visible, but field reps only once they own it."""
    if user.role == Role.FIELD:
        return Lead.field_owner_id == user.id
    return lead_visibility(user)


def visible_leads(user: User):
    return select(Lead).where(lead_visibility(user))


def get_lead(user: User, lead_id: int, *, for_change: bool = False, options: tuple = ()) -> Lead:
    """The lead if ``user`` may see it (change it, with ``for_change``); ``options`` are loader options."""
    condition = lead_editability(user) if for_change else lead_visibility(user)
    lead = db.session.scalar(select(Lead).where(Lead.id == lead_id, condition).options(*options))
    if lead is None:
        if for_change and db.session.scalar(select(Lead.id).where(Lead.id == lead_id, lead_visibility(user))):
            raise AccessDenied(str(_l("You may look at this lead but not change it.")))
        raise NotFound(str(_l("No such lead.")))
    return lead


def can_see_lead(user: User, lead: Lead) -> bool:
    return db.session.scalar(select(Lead.id).where(Lead.id == lead.id, lead_visibility(user))) is not None


def can_change_lead(user: User, lead: Lead) -> bool:
    return db.session.scalar(select(Lead.id).where(Lead.id == lead.id, lead_editability(user))) is not None


@_per_user
def contact_visibility(user: User):
    """Contacts with a lead the user may see; for inside sales also their team's lead-less contacts."""
    if user.role == Role.ADMIN:
        return true()
    has_visible_lead = exists().where(Lead.contact_id == Contact.id, lead_visibility(user))
    if user.role == Role.FIELD:
        return has_visible_lead
    no_lead = ~exists().where(Lead.contact_id == Contact.id)
    team_match = Contact.team_id.is_(None) if user.team_id is None else or_(
        Contact.team_id == user.team_id, Contact.team_id.is_(None)
    )
    # Written in the order PostgreSQL tests them (it keeps an OR's and an AND's order): the contact's own team
    # first, which rules out most contacts without reading leads, so a search matching thousands of people
    # probes each one's leads once, not twice.
    return or_(and_(team_match, no_lead), has_visible_lead)


def contact_search_keys(user: User) -> list[str] | None:
    """The access keys (``contacts.access_keys``, PostgreSQL, migration 0018) of every contact
    ``contact_visibility`` lets a rep see, for a search to read only those matches from its index; None
    for other roles, whose searches read all matches. The keys only narrow: the visibility condition is
    still applied to what they find, so a contact with a key it no longer needs is still not shown.

    Keys: ``o:<id>``, a lead the rep owns; ``p:<team>``/``p:``, a lead in their team's or the team-less
    pool; ``c:<team>``/``c:``, a contact of their team or of none that has no lead."""
    if user.role != Role.REP:
        return None
    teams = [""] if user.team_id is None else [str(user.team_id), ""]
    return [f"o:{user.id}", *(f"p:{t}" for t in teams), *(f"c:{t}" for t in teams)]


def new_lead_access_key(owner_id: int | None, team_id: int | None) -> str:
    """The key a new (open) lead gives its contact, as ``contact_access_keys`` (migration 0018) computes it:
    for a writer that inserts a person and their first lead together (the importer) to store the contact's
    keys with it. The leads' trigger still checks them and rewrites them if they are wrong."""
    return f"o:{owner_id}" if owner_id is not None else f"p:{'' if team_id is None else team_id}"


def visible_contacts(user: User):
    return select(Contact).where(contact_visibility(user), Contact.merged_into_id.is_(None))


def get_contact(user: User, contact_id: int) -> Contact:
    contact = db.session.scalar(select(Contact).where(Contact.id == contact_id, contact_visibility(user)))
    if contact is None:
        raise NotFound(str(_l("No such contact.")))
    return contact


@_per_user
def task_visibility(user: User):
    if user.role == Role.ADMIN:
        return true()
    if user.role == Role.MANAGER and user.team_id is not None:
        return or_(Task.assignee_id.in_(_team_members(user.team_id)), Task.assignee_id == user.id)
    return Task.assignee_id == user.id


def visible_tasks(user: User):
    return select(Task).where(task_visibility(user))


def get_task(user: User, task_id: int) -> Task:
    task = db.session.scalar(select(Task).where(Task.id == task_id, task_visibility(user)))
    if task is None:
        raise NotFound(str(_l("No such task.")))
    return task


def outbound_email_visibility(user: User):
    """Outbox messages: admins see all; others those they queued and those of leads they may see."""
    if user.role == Role.ADMIN:
        return true()
    lead_seen = exists().where(Lead.id == OutboundEmail.lead_id, lead_visibility(user))
    return or_(OutboundEmail.user_id == user.id, lead_seen)


def get_outbound_email(user: User, message_id: int) -> OutboundEmail:
    message = db.session.scalar(select(OutboundEmail).where(OutboundEmail.id == message_id,
                                                            outbound_email_visibility(user)))
    if message is None:
        raise NotFound(str(_l("No such email.")))
    return message


def can_manage_email(user: User) -> bool:
    """Email templates and the suppression list are for admins."""
    return user.is_authenticated and user.role == Role.ADMIN


@_per_user
def handoff_visibility(user: User):
    if user.role == Role.ADMIN:
        return true()
    if user.role == Role.MANAGER and user.team_id is not None:
        members = _team_members(user.team_id)
        return or_(Handoff.from_user_id.in_(members), Handoff.to_user_id.in_(members))
    if user.role == Role.FIELD:
        return and_(Handoff.to_user_id == user.id, handoff_reached_field())
    return or_(Handoff.from_user_id == user.id, Handoff.to_user_id == user.id)


def get_handoff(user: User, handoff_id: int) -> Handoff:
    handoff = db.session.scalar(select(Handoff).where(Handoff.id == handoff_id, handoff_visibility(user)))
    if handoff is None:
        raise NotFound(str(_l("No such hand-off.")))
    return handoff


# --- Hand-offs (issue 7): who hands off, approves, accepts and sends back -----------------------------------------

def handoff_reached_field():
    """A field rep sees a hand-off once it reached them: not while it awaits (or was refused) approval."""
    from crm.handoffs.models import HandoffStatus

    return Handoff.status.in_([HandoffStatus.PENDING, HandoffStatus.ACCEPTED, HandoffStatus.REJECTED])


def can_hand_off(user: User, lead: Lead) -> bool:
    """Inside reps (leads they may change), managers (their team's) and admins hand leads off; field reps do not."""
    return user.role in (Role.REP, Role.MANAGER, Role.ADMIN) and can_change_lead(user, lead)


def check_may_hand_off(user: User, lead: Lead) -> None:
    if user.role not in (Role.REP, Role.MANAGER, Role.ADMIN):
        raise AccessDenied(str(_l("Only inside sales and managers hand leads off.")), code="forbidden_role")
    if not can_change_lead(user, lead):
        raise AccessDenied(str(_l("You may look at this lead but not change it.")))


def can_approve_handoff(user: User, handoff: Handoff) -> bool:
    """Admins, and managers of the hand-off's team (the lead's, else the inside rep's)."""
    if user.role == Role.ADMIN:
        return True
    if user.role != Role.MANAGER or user.team_id is None:
        return False
    team_id = handoff.lead.team_id if handoff.lead.team_id is not None else \
        (handoff.from_user.team_id if handoff.from_user is not None else None)
    return team_id == user.team_id


def check_can_approve_handoff(user: User, handoff: Handoff) -> None:
    if not can_approve_handoff(user, handoff):
        raise AccessDenied(str(_l("Only a manager of the team approves or refuses this hand-off.")))


def can_decide_handoff(user: User, handoff: Handoff) -> bool:
    """Accepting or sending back is for the field rep it is meant for, no one else."""
    return handoff.to_user_id is not None and handoff.to_user_id == user.id


def check_can_decide_handoff(user: User, handoff: Handoff) -> None:
    if not can_decide_handoff(user, handoff):
        raise AccessDenied(str(_l("This hand-off is meant for someone else.")), code="not_your_handoff")


def report_scope(user: User, *, team_id: int | None = None, rep_id: int | None = None) -> dict:
    """The team and rep a report may cover for ``user``; asking for more is refused.

    Reps see only their own figures; managers their team; admins anything.
    """
    if user.role == Role.ADMIN:
        return {"team_id": team_id, "rep_id": rep_id}
    if user.role == Role.MANAGER:
        if team_id is not None and team_id != user.team_id:
            raise NotFound(str(_l("No such team.")))
        if rep_id is not None:
            rep = db.session.get(User, rep_id)
            if rep is None or rep.team_id != user.team_id:
                raise NotFound(str(_l("No such rep.")))
        return {"team_id": user.team_id, "rep_id": rep_id}
    if rep_id is not None and rep_id != user.id:
        raise NotFound(str(_l("No such rep.")))
    return {"team_id": None, "rep_id": user.id}


def check_assignable(user: User, owner: User | None) -> None:
    """May ``user`` make ``owner`` a lead's inside owner? Reps: themselves; managers: their team's reps."""
    if owner is None:
        return
    if owner.role != Role.REP or not owner.active:
        raise AccessDenied(str(_l("Leads are owned by active inside-sales reps.")), fields={"owner_id": _("Not an active rep.")})
    if user.role == Role.ADMIN or (user.role == Role.MANAGER and owner.team_id == user.team_id and user.team_id):
        return
    if user.id == owner.id:
        return
    raise AccessDenied(str(_l("You cannot give leads to that rep.")), fields={"owner_id": _("Not yours to assign to.")})


def require_import(user: User) -> None:
    """Imports are for managers and admins (they create leads for a whole team)."""
    if user.role not in (Role.MANAGER, Role.ADMIN):
        from werkzeug.exceptions import Forbidden

        raise Forbidden()


def may_see_import(user: User, job) -> bool:
    return user.role == Role.ADMIN or job.user_id == user.id or (job.team_id is not None and job.team_id == user.team_id)


def may_handle_data_requests(user: User) -> bool:
    """Exporting or erasing a person's data: managers (their team's contacts) and admins."""
    return user.role in (Role.MANAGER, Role.ADMIN)


def may_merge_contacts(user: User) -> bool:
    return user.role in (Role.MANAGER, Role.ADMIN)


def require_role(user: User, *roles: Role) -> None:
    if user.role not in roles:
        raise AccessDenied(str(_l("Your role cannot do this.")))


def require_admin(user: User) -> None:
    """Admin pages: everyone else gets 403 (the pages exist, but not for them)."""
    if user.role != Role.ADMIN:
        from werkzeug.exceptions import Forbidden

        raise Forbidden()


def can_run_jobs(user: User) -> bool:
    """The scheduler's admin page (job runs, run now, job settings) is for admins only."""
    return user.is_authenticated and user.role == Role.ADMIN


def is_manager(user: User) -> bool:
    return user.role in (Role.MANAGER, Role.ADMIN)


def navigation_for(user: User) -> list[tuple[str, str]]:
    """The menu a role sees: (endpoint, label); endpoints that do not exist yet are left out."""
    items = {
        Role.REP: [("dashboard.index", _l("Dashboard")), ("queue.index", _l("Queue")),
                   ("contacts.index", _l("Contacts")), ("leads.index", _l("Leads")), ("tasks.index", _l("Tasks")),
                   ("email.outbox", _l("Outbox")), ("handoffs.index", _l("Hand-offs"))],
        Role.FIELD: [("dashboard.index", _l("Dashboard")), ("handoffs.index", _l("Hand-offs")),
                     ("leads.index", _l("Leads")), ("tasks.index", _l("Tasks"))],
        Role.MANAGER: [("dashboard.index", _l("Dashboard")), ("leads.index", _l("Leads")),
                       ("contacts.index", _l("Contacts")), ("handoffs.index", _l("Hand-offs")),
                       ("reports.funnel", _l("Reports")), ("imports.index", _l("Import")), ("tasks.index", _l("Tasks"))],
        Role.ADMIN: [("dashboard.index", _l("Dashboard")), ("leads.index", _l("Leads")),
                     ("contacts.index", _l("Contacts")), ("reports.funnel", _l("Reports")),
                     ("imports.index", _l("Import")), ("admin.index", _l("Admin")), ("scheduler.jobs", _l("Jobs"))],
    }[user.role]
    if can_manage_email(user):
        items = [*items, ("email.templates", _l("Email"))]
    from flask import current_app

    endpoints = current_app.view_functions
    return [(endpoint, label) for endpoint, label in items if endpoint in endpoints]


# --- Reports, targets and the staffing planner (issue 8) ---------------------------------

def report_criteria_scope(user: User, *, team_id: int | None = None, rep_id: int | None = None) -> dict:
    """report_scope, and a manager without a team sees only their own figures (never everyone's)."""
    if user.role == Role.MANAGER and user.team_id is None:
        if rep_id is not None and rep_id != user.id:
            raise NotFound(str(_l("No such rep.")))
        if team_id is not None:
            raise NotFound(str(_l("No such team.")))
        return {"team_id": None, "rep_id": user.id}
    return report_scope(user, team_id=team_id, rep_id=rep_id)


def may_plan_staffing(user: User) -> bool:
    """The staffing planner (and its forecast from the team's inbound volume): managers and admins."""
    return user.is_authenticated and user.role in (Role.MANAGER, Role.ADMIN)


def may_manage_targets(user: User) -> bool:
    return user.is_authenticated and user.role in (Role.MANAGER, Role.ADMIN)


def target_visibility(user: User):
    """Targets a user may see: admins all; managers their team's and its members'; others their own and their team's."""
    from crm.reports.models import Target

    if user.role == Role.ADMIN:
        return true()
    if user.team_id is None:
        return Target.user_id == user.id
    if user.role == Role.MANAGER:
        return or_(Target.team_id == user.team_id, Target.user_id.in_(_team_members(user.team_id)))
    return or_(Target.user_id == user.id, Target.team_id == user.team_id)


def get_target(user: User, target_id: int, *, for_change: bool = False):
    from crm.reports.models import Target

    target = db.session.scalar(select(Target).where(Target.id == target_id, target_visibility(user)))
    if target is None or (for_change and not may_manage_targets(user)):
        raise NotFound(str(_l("No such target.")))
    return target


def check_target_subject(user: User, *, subject_user: User | None, subject_team_id: int | None) -> None:
    """May ``user`` set a target for this rep or team? Admins: anyone; managers: their team and its people."""
    if not may_manage_targets(user):
        raise AccessDenied(str(_l("Only managers set targets.")))
    if user.role == Role.ADMIN:
        return
    if subject_user is not None and (user.team_id is None or subject_user.team_id != user.team_id):
        raise AccessDenied(str(_l("That rep is not in your team.")), fields={"subject": str(_l("Not in your team."))})
    if subject_team_id is not None and subject_team_id != user.team_id:
        raise AccessDenied(str(_l("That is not your team.")), fields={"subject": str(_l("Not your team."))})


# --- Tasks (follow-ups) and their reassignment (issue 4, cadences branch) ---

def check_task_assignee(user: User, assignee: User) -> None:
    """May ``user`` give a task to ``assignee``? Everyone themselves; managers their team; admins anyone active."""
    if not assignee.active:
        raise AccessDenied(str(_l("Tasks go to active users.")), fields={"assignee_id": str(_l("Not an active user."))})
    if assignee.id == user.id or user.role == Role.ADMIN:
        return
    if user.role == Role.MANAGER and user.team_id is not None and assignee.team_id == user.team_id:
        return
    raise AccessDenied(str(_l("You cannot give tasks to that person.")),
                       fields={"assignee_id": str(_l("Not yours to assign to."))})


def may_reassign_tasks(user: User) -> bool:
    """Reassigning someone's task is for managers (within their team) and admins."""
    return user.role in (Role.MANAGER, Role.ADMIN)


def task_assignees(user: User):
    """The users ``user`` may give a task to, as a query (for the reassign menu)."""
    stmt = select(User).where(User.active.is_(True)).order_by(User.name)
    if user.role == Role.ADMIN:
        return stmt
    if user.role == Role.MANAGER and user.team_id is not None:
        return stmt.where(or_(User.team_id == user.team_id, User.id == user.id))
    return stmt.where(User.id == user.id)


# --- The lead queue (issue 4: queue, claims, reassignment) ---------------------------------------

def queue_pool(user: User):
    """The unassigned pool a rep's Next lead may take from: open, no owner, their team's (or no team's)."""
    team = Lead.team_id.is_(None) if user.team_id is None else or_(Lead.team_id == user.team_id,
                                                                    Lead.team_id.is_(None))
    return and_(Lead.owner_id.is_(None), Lead.status == LeadStatus.OPEN, team)


def lead_workability(user: User):
    """Leads ``user`` may claim and work from the queue: an active rep's own open leads and their pool."""
    if user.role != Role.REP or not user.active:
        return false()
    return or_(and_(Lead.owner_id == user.id, Lead.status == LeadStatus.OPEN), queue_pool(user))


def may_use_queue(user: User) -> bool:
    return user.is_authenticated and user.role == Role.REP and user.active


def check_may_work(user: User, lead: Lead) -> None:
    """Refuse a claim of a lead the user may not work (not theirs, not their pool, not open, not a rep)."""
    if db.session.scalar(select(Lead.id).where(Lead.id == lead.id, lead_workability(user))) is None:
        raise AccessDenied(str(_l("This lead is not yours to work: it belongs to another rep, "
                                  "another team's pool, or it is closed.")), code="not_workable")


def check_may_reassign(user: User, owner: User) -> None:
    """Reassigning leads is for managers (to their team's reps) and admins."""
    if user.role not in (Role.MANAGER, Role.ADMIN):
        raise AccessDenied(str(_l("Only managers reassign leads.")))
    check_assignable(user, owner)
