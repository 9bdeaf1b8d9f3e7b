"""Every control on the existing pages has a name a screen reader can say; landmarks and skip link."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from crm.auth.models import Role
from tests import factories as f


class Controls(HTMLParser):
    def __init__(self):
        super().__init__()
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self.open_labels = 0
        self.landmarks: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("main", "nav", "header"):
            self.landmarks.add(tag)
        if tag == "label":
            self.open_labels += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        if tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
            self.controls.append({**attrs, "_tag": tag, "_in_label": self.open_labels > 0})

    def handle_endtag(self, tag):
        if tag == "label":
            self.open_labels -= 1

    def unnamed(self) -> list[dict]:
        return [c for c in self.controls
                if not (c["_in_label"] or c.get("aria-label") or c.get("aria-labelledby") or c.get("id") in self.label_for)]


def _pages(db_session):
    team = f.team()
    admin, rep = f.user(Role.ADMIN), f.user(Role.REP, team)
    lead = f.lead(rep)
    return admin, rep, ["/", "/contacts", f"/contacts/{lead.contact_id}", "/contacts/new", "/leads", "/leads/new",
                        f"/leads/{lead.id}", f"/leads/{lead.id}/edit", "/profile", "/outbox"], \
        ["/admin/", "/admin/users", "/admin/users/new", "/admin/teams", f"/admin/teams/{team.id}", "/admin/lost-reasons",
         "/admin/email-templates", "/admin/email-templates/new", "/admin/suppressions", "/admin/jobs",
         "/admin/jobs/settings", "/imports"]


@pytest.mark.parametrize("locale", ["en", "ru"])
def test_every_control_has_a_label_and_every_page_its_landmarks(client, db_session, locale):
    admin, rep, rep_pages, admin_pages = _pages(db_session)
    for user, paths in ((rep, rep_pages), (admin, admin_pages)):
        user.locale = locale
        client.post("/login", data={"email": user.email, "password": f.PASSWORD})
        for path in paths:
            resp = client.get(path)
            assert resp.status_code == 200, path
            parsed = Controls()
            parsed.feed(resp.data.decode())
            assert not parsed.unnamed(), (path, parsed.unnamed())
            assert {"main", "nav", "header"} <= parsed.landmarks, path
            assert 'href="#main"' in resp.data.decode(), path
        client.post("/logout")


def test_login_page_has_a_main_landmark_and_labels(client, db_session):
    parsed = Controls()
    parsed.feed(client.get("/login").data.decode())
    assert "main" in parsed.landmarks and not parsed.unnamed()
