"""The default cadence and its follow-up email: made by `crm migrate` once, never over an admin's changes."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.cadences import defaults
from crm.cadences.models import Cadence
from crm.cli import crm_cli
from crm.email.models import EmailTemplate


def test_the_default_cadence_is_the_practices_three_calls_then_an_email(db_session):
    made = defaults.ensure_defaults()
    assert made == {"templates": 4, "cadence": "Three calls, then an email"}
    cadence = db_session.scalar(select(Cadence).where(Cadence.is_default.is_(True)))
    assert [(s.day_offset, s.window_start.hour, s.channel.value, s.template_key, s.only_if_unreached)
            for s in cadence.steps] == [(0, 9, "call", None, False), (1, 14, "call", None, False),
                                        (3, 17, "call", None, False), (3, 9, "email", "follow_up", True)]
    templates = {t.locale: t for t in db_session.scalars(select(EmailTemplate).where(EmailTemplate.key == "follow_up"))}
    assert set(templates) == {"en", "pt", "ro", "ru"}
    assert templates["pt"].subject == "Seguimento, {{ contact.first_name }}"
    assert "дозвониться" in templates["ru"].body and "telefonic" in templates["ro"].body


def test_running_it_again_changes_nothing_an_admin_did(db_session):
    defaults.ensure_defaults()
    cadence = db_session.scalar(select(Cadence))
    cadence.name = "Our own"
    template = db_session.scalar(select(EmailTemplate).where(EmailTemplate.locale == "en"))
    template.subject = "Edited"
    db_session.delete(db_session.scalar(select(EmailTemplate).where(EmailTemplate.locale == "ro")))
    db_session.flush()
    assert defaults.ensure_defaults() == {"templates": 1, "cadence": None}  # only the missing Romanian one
    assert db_session.scalar(select(func.count()).select_from(Cadence)) == 1
    assert db_session.scalar(select(EmailTemplate.subject).where(EmailTemplate.locale == "en")) == "Edited"


def test_crm_migrate_puts_them_in_place(app, db_session, monkeypatch):
    monkeypatch.setattr("crm.schema.upgrade", lambda engine, revision="head": None)  # the test database is at head
    result = app.test_cli_runner().invoke(crm_cli, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "Added the default cadence (Three calls, then an email) and 4 follow-up email template(s)." in result.output
    again = app.test_cli_runner().invoke(crm_cli, ["migrate"])
    assert again.exit_code == 0 and "Added" not in again.output
    assert db_session.scalar(select(func.count()).select_from(Cadence)) == 1
