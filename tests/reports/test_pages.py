"""The report pages: figures, SVG charts with their tables, filters with errors beside them, CSV."""

from __future__ import annotations

import csv
import io

import pytest
import time_machine

from crm.extensions import db
from tests import factories
from tests.reports.builders import lead_at, touch, utc


def sign_in(client, user):
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True


@pytest.fixture
def org(db_session):
    north = factories.team("North")
    manager = factories.user("manager", team=north, name="Mia")
    ana = factories.user("rep", team=north, name="Ana")
    campaign = factories.campaign(north, name="=cmd|' /C calc'!A0")
    lead = lead_at(ana, utc(2026, 6, 2, 9), campaign=campaign)
    touch(ana, lead, "call", "outbound", "connected", utc(2026, 6, 2, 10), talk_seconds=90)
    touch(ana, lead, "call", "inbound", "abandoned", utc(2026, 6, 3, 10), queue_seconds=40)
    db.session.flush()
    return {"manager": manager, "ana": ana, "campaign": campaign, "admin": factories.user("admin")}


WEEK = "date_from=2026-06-01&date_to=2026-06-07"


@time_machine.travel(utc(2026, 6, 8, 12), tick=False)
@pytest.mark.parametrize("page", ["funnel", "activity", "inbound", "cost"])
def test_each_report_page_has_an_accessible_chart_a_table_and_a_csv_link(client, org, page):
    sign_in(client, org["manager"])
    resp = client.get(f"/reports/{page}?{WEEK}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'role="img"' in html and f'aria-labelledby="{page}-chart-title {page}-chart-desc"' in html
    assert "<desc id=" in html and "<table" in html
    assert f"/reports/{page}.csv?date_from=2026-06-01" in html.replace("&amp;", "&")
    assert "2026-05-25 to 2026-05-31" in html  # the previous period


@time_machine.travel(utc(2026, 6, 8, 12), tick=False)
def test_funnel_page_shows_the_figures_and_a_dash_when_empty(client, org):
    sign_in(client, org["manager"])
    html = client.get(f"/reports/funnel?{WEEK}").get_data(as_text=True)
    assert 'data-figure="created"' in html
    assert "—" in html  # the previous period has no leads: its rates are dashes


@time_machine.travel(utc(2026, 6, 8, 12), tick=False)
def test_bad_filters_show_errors_beside_the_field(client, org):
    sign_in(client, org["manager"])
    resp = client.get("/reports/funnel?date_from=2026-06-07&date_to=2026-06-01")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="date_to-error"' in html and "must be on or after date_from" in html


@time_machine.travel(utc(2026, 6, 8, 12), tick=False)
def test_activity_csv_has_a_row_per_rep_and_a_total(client, org):
    sign_in(client, org["manager"])
    resp = client.get(f"/reports/activity.csv?{WEEK}")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    header = rows[0]
    ana = dict(zip(header, rows[1], strict=True))
    assert ana["rep"] == "Ana" and ana["outbound_calls"] == "1" and ana["connect_rate"] == "1"
    assert ana["follow_up_compliance"] == "—"
    assert rows[-1][0] == "Total"


@time_machine.travel(utc(2026, 6, 8, 12), tick=False)
def test_cost_csv_is_formula_safe(client, org):
    sign_in(client, org["admin"])
    text = client.get(f"/reports/cost.csv?{WEEK}").get_data(as_text=True)
    assert "'=cmd|' /C calc'!A0" in text
    assert "\n=cmd" not in text and ",=cmd" not in text


@time_machine.travel(utc(2026, 6, 8, 12), tick=False)
def test_funnel_and_inbound_csv_compare_both_periods(client, org):
    sign_in(client, org["manager"])
    rows = list(csv.reader(io.StringIO(client.get(f"/reports/funnel.csv?{WEEK}").get_data(as_text=True))))
    assert rows[0] == ["figure", "2026-06-01..2026-06-07", "2026-05-25..2026-05-31"]
    assert ["Leads created", "1", "0"] in rows
    assert ["Win rate (won / closed)", "—", "—"] in rows
    rows = list(csv.reader(io.StringIO(client.get(f"/reports/inbound.csv?{WEEK}").get_data(as_text=True))))
    assert ["Abandoned", "1", "0"] in rows


def test_a_rep_sees_their_own_activity_only(client, org):
    sign_in(client, org["ana"])
    assert client.get(f"/reports/activity?{WEEK}").status_code == 200
    assert client.get(f"/reports/activity?{WEEK}&rep_id={org['manager'].id}").status_code == 404
    assert client.get("/reports/staffing").status_code == 403


def test_reports_need_sign_in(client, org):
    assert client.get("/reports/funnel").status_code == 302


def test_staffing_page_plans_one_interval(client, org):
    sign_in(client, org["manager"])
    resp = client.get("/reports/staffing?mode=interval&calls=100&interval_minutes=30&aht_seconds=180"
                      "&answer_within_seconds=20&target_service_level=80&shrinkage=30")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'data-testid="agents">14<' in html and 'data-testid="positions">20<' in html
    assert "88.8%" in html or "88.8 %" in html
    csv_text = client.get("/reports/staffing.csv?mode=interval&calls=100&interval_minutes=30&aht_seconds=180"
                          "&target_service_level=80&shrinkage=30").get_data(as_text=True)
    assert ",14,20," in csv_text


def test_staffing_page_errors_beside_the_field(client, org):
    sign_in(client, org["manager"])
    resp = client.get("/reports/staffing?mode=interval&calls=100&interval_minutes=30&target_service_level=150")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="target_service_level-error"' in html


def test_reports_menu_entry_for_managers(client, org):
    sign_in(client, org["manager"])
    assert 'href="/reports/funnel"' in client.get("/").get_data(as_text=True)
