"""Queue pages: the work list, Next lead, the lead workspace's log panel, leases, bulk reassignment."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from crm import access
from crm.auth.models import User
from crm.contacts.views import apply_errors
from crm.db import utcnow
from crm.errors import AccessDenied, DomainError, NotFound
from crm.extensions import db
from crm.i18n import zone_of
from crm.queue import service
from crm.queue.forms import LogOutcomeForm
from crm.queue.service import REASON_LABELS, LeaseLost

bp = Blueprint("queue", __name__)

THEN_NEXT = "queue_then_next"  # the rep's choice, remembered in their session


@bp.get("/queue")
@login_required
def index():
    items = service.work_list(current_user) if access.may_use_queue(current_user) else []
    return render_template("queue/index.html", items=items, is_rep=access.may_use_queue(current_user), now=utcnow(),
                           labels=REASON_LABELS)


@bp.post("/queue/next")
@login_required
def next_lead():
    held = request.form.get("from_lead", type=int)
    claim = service.claim_next(current_user, skip=(held,) if held else ())
    return _go_to(claim)


def _go_to(claim, logged: bool = False):
    if claim is None:
        flash(_("Logged. Your queue is empty — well done.") if logged else _("Nothing to do right now."), "info")
        return redirect(url_for("queue.index"))
    message = _("Next: %(reason)s.", reason=claim.item.label)
    flash(_("Logged.") + " " + message if logged else message, "info")
    return redirect(url_for("leads.show", lead_id=claim.lead.id))


@bp.post("/leads/<int:lead_id>/claim")
@login_required
def claim(lead_id: int):
    lead = access.get_lead(current_user, lead_id)
    service.claim_lead(current_user, lead)
    return redirect(url_for("leads.show", lead_id=lead.id))


@bp.post("/leads/<int:lead_id>/lease")
@login_required
def renew(lead_id: int):
    """The lead page's heartbeat (JSON, CSRF header)."""
    try:
        lead = access.get_lead(current_user, lead_id)
        expires = service.renew_lease(current_user, lead)
    except DomainError as exc:
        db.session.rollback()
        return jsonify(exc.to_dict()), exc.status
    return jsonify({"lead_id": lead.id, "expires_at": expires.isoformat()})


@bp.post("/leads/<int:lead_id>/release")
@login_required
def release(lead_id: int):
    """Sent by the lead page when the rep leaves it (navigator.sendBeacon)."""
    lead = access.get_lead(current_user, lead_id)
    service.release_lease(current_user, lead)
    return "", 204


@bp.app_template_global()
def queue_panel(lead, form: LogOutcomeForm | None = None, error: str | None = None) -> dict:
    """What the lead page's log panel shows: the call script, the lease, the log form."""
    now = utcnow()
    holds = service.holds_lease(current_user, lead, now)
    if form is None:
        form = LogOutcomeForm(formdata=None)
        form.then_next.data = session.get(THEN_NEXT, True)
        form.had_lease.data = "1" if holds else ""
    held_by = None
    if lead.claimed_by_id and not holds and lead.claim_expires_at and lead.claim_expires_at > now:
        held_by = db.session.get(User, lead.claimed_by_id)
    return {"form": form, "holds": holds, "expires_at": lead.claim_expires_at if holds else None, "held_by": held_by,
            "may_log": access.can_change_lead(current_user, lead), "is_rep": access.may_use_queue(current_user),
            "script": lead.campaign.call_script if lead.campaign else "", "error": error,
            "heartbeat_seconds": max(30, int(service.lease_length().total_seconds() // 3))}


@bp.post("/leads/<int:lead_id>/outcome")
@login_required
def log(lead_id: int):
    lead = access.get_lead(current_user, lead_id, for_change=True)
    form = LogOutcomeForm()
    session[THEN_NEXT] = bool(form.then_next.data)
    if form.validate_on_submit():
        follow_up_at = None
        if form.follow_up_at.data is not None:
            follow_up_at = form.follow_up_at.data.replace(tzinfo=zone_of(current_user.timezone))
        try:
            had_lease = form.had_lease.data == "1"
            if request.form.get("retake"):
                service.claim_lead(current_user, lead)
                had_lease = True
            service.log_outcome(current_user, lead, outcome=form.outcome.data, channel=form.channel.data,
                                talk_seconds=form.talk_seconds.data, notes=form.notes.data or "",
                                follow_up_at=follow_up_at, had_lease=had_lease)
        except (LeaseLost, AccessDenied) as exc:
            return _refused(lead_id, form, exc, 409)
        except DomainError as exc:
            db.session.rollback()
            lead = access.get_lead(current_user, lead_id, for_change=True)
            apply_errors(form, exc)
        else:
            session[THEN_NEXT] = bool(form.then_next.data)
            if form.then_next.data and access.may_use_queue(current_user):
                return _go_to(service.claim_next(current_user, skip=(lead.id,)), logged=True)
            flash(_("Logged."), "success")
            return redirect(url_for("leads.show", lead_id=lead.id))
    return _workspace(lead, form), 422


def _refused(lead_id: int, form: LogOutcomeForm, exc: DomainError, status: int):
    """Nothing was logged; the page comes back with everything the rep typed and why."""
    db.session.rollback()
    session[THEN_NEXT] = bool(form.then_next.data)
    lead = access.get_lead(current_user, lead_id, for_change=True)
    if isinstance(exc, LeaseLost) and exc.code == "lease_expired":
        message = _("Not logged: your hold on this lead expired, so someone else could have called. "
                    "Check the history, then take it again and log.")
    else:
        message = _("Not logged: %(why)s Your notes are still here.", why=exc.message)
    return _workspace(lead, form, message), status


def _workspace(lead, form, error: str | None = None):
    from crm.leads.views import workspace_context

    return render_template("leads/show.html", **workspace_context(lead), log_form=form, log_error=error)


@bp.post("/leads/reassign")
@login_required
def reassign():
    """The lead list's bulk action."""
    ids = [int(v) for v in request.form.getlist("lead_ids") if v.isdigit()]
    owner = db.session.get(User, request.form.get("owner_id", type=int) or 0)
    back = request.form.get("next") or url_for("leads.index")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("leads.index")
    if owner is None:
        flash(_("Choose the rep to give the leads to."), "danger")
        return redirect(back)
    try:
        moved = service.reassign_leads(current_user, ids, owner)
    except (DomainError, NotFound) as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(back)
    flash(_("%(n)d leads given to %(name)s.", n=len(moved), name=owner.name), "success")
    return redirect(back)


def reassign_choices(user) -> list[User]:
    """Reps a manager may give leads to (their team's active reps; every active rep for an admin)."""
    from crm.auth.models import Role

    if not access.is_manager(user):
        return []
    stmt = select(User).where(User.role == Role.REP, User.active.is_(True)).order_by(User.name)
    if user.role != Role.ADMIN:
        stmt = stmt.where(User.team_id == user.team_id)
    return list(db.session.scalars(stmt))


@bp.app_template_filter("contact_time")
def contact_time(now, zone: str) -> str:
    """The contact's local clock (HH:MM) and whether it is calling hours there."""
    local = now.astimezone(zone_of(zone)).strftime("%H:%M")
    return local if service.in_calling_hours(zone, now) else _("%(time)s (outside calling hours)", time=local)


bp.add_app_template_global(reassign_choices, "reassign_choices")
