"""Imported leads join their cadence too, in bulk, with the same rules as leads made one by one."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from sqlalchemy import select

from crm.auth.models import Role
from crm.cadences.models import Cadence, CadenceEnrollment, CadenceStep, EnrollmentState
from crm.cli import crm_cli
from crm.leads.models import Lead
from crm.touches.models import Channel
from tests import factories as f
from tests.cadences.helpers import default_cadence_in_place

CSV = ("First Name,Last Name,Email,Phone Number,Time Zone,Campaign\n"
       "Ana,Sousa,ana@example.pt,912 345 678,Europe/Lisbon,\n"
       "Kaito,Sato,kaito@example.jp,+81 90 1234 5678,Asia/Tokyo,\n"
       "Ion,Popescu,ion@example.ro,+40 722 123 456,Europe/Bucharest,Webinar\n")


def test_imported_leads_are_enrolled_in_the_contacts_zone(app, db_session, tmp_path):
    default_cadence_in_place()
    webinar = Cadence(name="Webinar", steps=[CadenceStep(position=0, day_offset=1, channel=Channel.EMAIL,
                                                         template_key="follow_up")])
    db_session.add(webinar)
    db_session.flush()
    f.campaign(name="Webinar", cadence_id=webinar.id)
    f.user(Role.REP, f.team("Lisbon"))
    path = tmp_path / "in.csv"
    path.write_text(CSV, encoding="utf-8")
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        result = app.test_cli_runner().invoke(crm_cli, ["import", str(path), "--team", "Lisbon"])
    assert result.exit_code == 0, result.output
    rows = db_session.execute(select(Lead.title, CadenceEnrollment).join(
        CadenceEnrollment, CadenceEnrollment.lead_id == Lead.id).order_by(Lead.id)).all()
    due = {title: (e.cadence_id, e.step_position, e.state, e.started_at, e.next_step_at) for title, e in rows}
    default_id = db_session.scalar(select(Cadence.id).where(Cadence.is_default.is_(True)))
    assert due == {
        # 08:00 in Lisbon: the first call waits for 09:00.
        "Ana Sousa": (default_id, 0, EnrollmentState.ACTIVE, now, datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        # 17:00 in Tokyo, after the morning window: tomorrow 09:00 JST.
        "Kaito Sato": (default_id, 0, EnrollmentState.ACTIVE, now, datetime(2026, 3, 3, 0, 0, tzinfo=UTC)),
        # The campaign's own cadence: an email the next day at 09:00 in Bucharest (UTC+2).
        "Ion Popescu": (webinar.id, 0, EnrollmentState.ACTIVE, now, datetime(2026, 3, 3, 7, 0, tzinfo=UTC)),
    }
