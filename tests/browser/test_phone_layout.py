"""Every role's main pages at phone size (375×740) and on a laptop (1280×800), in Chromium.

On each page: nothing pushes the page sideways (wide tables scroll inside their own box), the
navigation is collapsed behind its Menu button on a phone, and the controls are big enough to
tap. The demo organisation (realistic names, Portuguese and Russian users) fills the pages;
screenshots of every page at both sizes are kept in test-artifacts/layout-*.png.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from crm.auth.models import User
from crm.demo.seed import DEMO_PASSWORD, seed
from crm.extensions import db
from crm.leads.models import Lead, LeadStatus
from crm.touches.models import Touch
from tests.browser.conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
LAPTOP = {"width": 1280, "height": 800}
MIN_TAP = 24  # CSS pixels: WCAG 2.2's minimum target size for controls

ROLES = {
    "rep": ("rita@touchline.example", ["/", "/queue", "/leads/{lead}", "/tasks", "/contacts?q={surname}"]),
    "field": ("filipa@touchline.example", ["/handoffs"]),
    "manager": ("manager@touchline.example", ["/reports/funnel", "/reports/activity", "/reports/staffing",
                                              "/reports/targets"]),
    "admin": ("admin@touchline.example", ["/admin/users", "/admin/cadences", "/admin/email-templates",
                                          "/admin/integrations"]),
}

# What is wrong with the page as laid out: a list of sentences, empty when all is well.
PROBLEMS = """(minTap) => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) {
    const wide = [...document.querySelectorAll('body *')].filter(el => {
      const box = el.getBoundingClientRect();
      if (box.right <= window.innerWidth + 1) return false;
      for (let up = el.parentElement; up; up = up.parentElement) {  // inside a box that scrolls: fine
        if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(up).overflowX)) return false;
      }
      return true;
    });
    problems.push(`page is ${root.scrollWidth}px wide in a ${window.innerWidth}px window; widest: ` +
                  wide.slice(0, 3).map(el => el.outerHTML.slice(0, 120)).join(' | '));
  }
  for (const table of document.querySelectorAll('main table')) {
    let scrolls = false;
    for (let up = table.parentElement; up && up !== document.body; up = up.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) { scrolls = true; break; }
    }
    if (!scrolls && table.getBoundingClientRect().width > window.innerWidth) {
      problems.push('a table wider than the window does not scroll in its own box: ' + table.outerHTML.slice(0, 120));
    }
  }
  const controls = document.querySelectorAll(
    'main button, main .btn, main select, main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), main textarea');
  for (const el of controls) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not shown (a closed panel)
    if (box.height < minTap || box.width < minTap) {
      problems.push(`control ${Math.round(box.width)}×${Math.round(box.height)}px: ` + el.outerHTML.slice(0, 120));
    }
  }
  return problems;
}"""


@pytest.fixture(scope="module")
def demo(live_server):
    def _seed():
        seed(60)
        db.session.flush()
        rita = db.session.scalar(select(User.id).where(User.email == "rita@touchline.example"))
        # Her busiest open lead: the longest timeline and log panel.
        lead = db.session.scalar(select(Lead).join(Touch, Touch.lead_id == Lead.id)
                                 .where(Lead.owner_id == rita, Lead.status == LeadStatus.OPEN)
                                 .group_by(Lead.id).order_by(func.count().desc(), Lead.id).limit(1))
        return {"lead": lead.id, "surname": lead.contact.last_name}  # a search with a result to show
    return live_server.run(_seed)


def _visit_all(live_server, browser, demo, viewport, size: str) -> list[str]:
    ARTIFACTS.mkdir(exist_ok=True)
    problems = []
    for role, (email, paths) in ROLES.items():
        context = browser.new_context(viewport=viewport, locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(10_000)
        try:
            sign_in(page, live_server, email, DEMO_PASSWORD)
            expect(page.get_by_test_id("whoami")).to_be_attached()
            for path in paths:
                url = path.format(**demo)
                response = page.goto(live_server.url + url, wait_until="load")
                assert response is not None and response.status == 200, (role, url, response and response.status)
                name = f"layout-{size}-{role}-{url.strip('/').split('?')[0].replace('/', '-') or 'dashboard'}"
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
                problems += [f"{size} {role} {url}: {p}" for p in page.evaluate(PROBLEMS, MIN_TAP)]
                collapsed = page.locator(".navbar-toggler").is_visible() and not page.locator("#nav").is_visible()
                if viewport is PHONE and not collapsed:
                    problems.append(f"{size} {role} {url}: the navigation is not collapsed behind Menu")
        finally:
            context.close()
    return problems


def test_every_page_fits_a_phone(live_server, browser, demo):
    problems = _visit_all(live_server, browser, demo, PHONE, "phone")
    assert not problems, "\n".join(problems)


def test_every_page_fits_a_laptop(live_server, browser, demo):
    problems = _visit_all(live_server, browser, demo, LAPTOP, "laptop")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", [768, 1024])
def test_the_navigation_fits_a_tablet(live_server, browser, demo, width):
    """The managers' and admins' menus are the longest: collapsed until the bar can hold them."""
    for email in ("manager@touchline.example", "admin@touchline.example"):
        context = browser.new_context(viewport={"width": width, "height": 800}, locale="en-GB")
        page = context.new_page()
        try:
            sign_in(page, live_server, email, DEMO_PASSWORD)
            expect(page.get_by_test_id("whoami")).to_be_attached()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (email, width)
        finally:
            context.close()


def test_the_phone_menu_opens_and_reaches_every_section(live_server, browser, demo):
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    page = context.new_page()
    try:
        sign_in(page, live_server, "sam@touchline.example", DEMO_PASSWORD)
        page.get_by_role("button", name="Menu").click()
        expect(page.locator("#nav")).to_be_visible()
        page.get_by_role("link", name="Tasks").click()
        expect(page).to_have_url(f"{live_server.url}/tasks")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(ARTIFACTS / "layout-phone-rep-menu.png"), full_page=True)
    finally:
        context.close()
