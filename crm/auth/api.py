"""GET /api/v1/me."""

from __future__ import annotations

from pydantic import BaseModel

from crm.api import current_api_user, endpoint


class TeamRef(BaseModel):
    id: int
    name: str


class MeOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    team: TeamRef | None
    timezone: str
    locale: str


@endpoint("/me", summary="The token's user", tags=["auth"], response=MeOut,
          read_only=True)
def me():
    user = current_api_user()
    team = TeamRef(id=user.team.id, name=user.team.name) if user.team else None
    return MeOut(id=user.id, email=user.email, name=user.name, role=user.role.value, team=team,
                 timezone=user.timezone, locale=user.locale)
