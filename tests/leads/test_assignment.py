"""New leads go round-robin to the team's reps, skipping full and inactive ones; pool mode waits."""

from __future__ import annotations

from crm.auth.models import Role
from crm.leads.service import create_lead
from tests import factories as f


def test_round_robin_over_active_reps(db_session):
    team = f.team()
    a, b = f.user(Role.REP, team), f.user(Role.REP, team)
    f.user(Role.REP, team, active=False)
    f.user(Role.MANAGER, team)
    owners = [create_lead(f.contact(), actor=None, team_id=team.id).owner for _ in range(4)]
    assert owners == [a, b, a, b]


def test_rep_at_capacity_is_skipped_and_full_team_uses_pool(db_session):
    team = f.team()
    full, free = f.user(Role.REP, team, capacity=1), f.user(Role.REP, team, capacity=2)
    owners = [create_lead(f.contact(), actor=None, team_id=team.id).owner for _ in range(4)]
    assert owners == [full, free, free, None]


def test_pool_mode_team_keeps_leads_unassigned(db_session):
    team = f.team(pool_mode=True)
    f.user(Role.REP, team)
    lead = create_lead(f.contact(), actor=None, team_id=team.id)
    assert lead.owner is None and lead.team_id == team.id


def test_explicit_none_owner_goes_to_pool(db_session):
    team = f.team()
    f.user(Role.REP, team)
    assert create_lead(f.contact(), actor=None, team_id=team.id, owner=None).owner is None


def test_no_team_no_owner(db_session):
    assert create_lead(f.contact(), actor=None).owner is None


def test_a_batch_continues_the_turn_across_calls(db_session):
    from crm.queue.assignment import pick_owners

    team = f.team()
    a, b, c = f.user(Role.REP, team), f.user(Role.REP, team), f.user(Role.REP, team)
    assert pick_owners(team.id, 2) == [a, b]
    assert pick_owners(team.id, 4) == [c, a, b, c]
    assert create_lead(f.contact(), actor=None, team_id=team.id).owner == a


def test_only_the_capped_reps_own_open_leads_use_up_their_room(db_session):
    from crm.leads.service import mark_lost

    team, other_team = f.team(), f.team()
    capped, uncapped = f.user(Role.REP, team, capacity=2), f.user(Role.REP, team)
    stranger = f.user(Role.REP, other_team, capacity=1)
    closed = f.lead(capped)
    mark_lost(closed, actor=capped, reason=f.lost_reason().id)
    f.lead(uncapped)
    f.lead(stranger)
    owners = [create_lead(f.contact(), actor=None, team_id=team.id).owner for _ in range(5)]
    assert owners.count(capped) == 2 and owners.count(uncapped) == 3
