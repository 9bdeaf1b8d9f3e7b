"""create-user and create-token from the command line."""

from __future__ import annotations

from sqlalchemy import select

from crm.auth.models import ApiToken, User
from crm.cli import crm_cli


def test_create_user_reads_password_from_stdin_and_creates_team(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(crm_cli, ["create-user", "ana@example.com", "--role", "rep", "--team", "Lisbon",
                                     "--name", "Ana Sousa", "--password-stdin"], input="a-long-passphrase\n")
    assert result.exit_code == 0, result.output
    user = db_session.scalar(select(User).where(User.email == "ana@example.com"))
    assert user.name == "Ana Sousa" and user.team.name == "Lisbon"


def test_create_user_refuses_empty_password(app, db_session):
    result = app.test_cli_runner().invoke(
        crm_cli, ["create-user", "empty@example.com", "--role", "rep", "--password-stdin"], input="\n")
    assert result.exit_code != 0
    assert "password" in result.output.lower()


def test_create_token_prints_token_on_last_line(app, db_session, client):
    runner = app.test_cli_runner()
    runner.invoke(crm_cli, ["create-user", "tok@example.com", "--role", "manager", "--password-stdin"],
                  input="a-long-passphrase\n")
    result = runner.invoke(crm_cli, ["create-token", "tok@example.com"])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    assert db_session.scalar(select(ApiToken)) is not None
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json["email"] == "tok@example.com"


def test_create_token_for_unknown_user_fails(app, db_session):
    result = app.test_cli_runner().invoke(crm_cli, ["create-token", "ghost@example.com"])
    assert result.exit_code != 0 and "No user" in result.output
