"""bench/run.py and the load test: they run the named cases and report figures that add up."""

from __future__ import annotations

import json
import re
import shutil
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench import load_test
from bench.generate import generate
from crm import ROOT
from tests.conftest import PG_URL, skip_or_fail


@pytest.fixture(scope="module")
def bench_url():
    if not PG_URL:
        skip_or_fail("TEST_DATABASE_URL is not set; the benchmarks need PostgreSQL")
    url = make_url(PG_URL).set(database=f"touchline_runtest_{uuid.uuid4().hex[:8]}").render_as_string(False)
    generate(url, 300, 3, seed=2, reps_n=8, teams_n=2)
    yield url
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in (make_url(url).database, make_url(url).database + "_import"):
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def test_run_prints_and_writes_median_p95_data_size_and_ratio(bench_url, tmp_path, monkeypatch, capsys):
    from bench import run

    out = tmp_path / "result.json"
    monkeypatch.setattr(sys, "argv", ["run", "lead_list", "timeline", "search_phone", "--url", bench_url,
                                      "--repeat", "3", "--json", str(out)])
    run.main()
    result = json.loads(out.read_text())
    assert result["data"]["leads"] >= 0 and set(result["cases"]) == {"lead_list", "timeline", "search_phone"}
    lead_list = result["cases"]["lead_list"]
    assert lead_list["n"] == 3 and 0 < lead_list["median_ms"] <= lead_list["p95_ms"]
    assert lead_list["raw_sql_median_ms"] > 0 and lead_list["ratio"] > 0
    assert "ratio" not in result["cases"]["search_phone"]
    printed = capsys.readouterr().out
    assert "lead_list" in printed and "median ms" in printed and "data:" in printed


def test_import_case_wraps_import_bench_and_reports_rows_per_second(bench_url):
    from bench.cases import import_throughput

    row = import_throughput(bench_url, rows=1500)
    assert row["unit"] == "rows/s" and row["rate"] > 0 and row["size"] == "1500 rows"
    assert int(row["detail"]["created"]) + int(row["detail"]["rejected"]) + int(row["detail"]["existing"]) == 1500


def test_unknown_case_names_are_refused(monkeypatch, capsys):
    from bench import run

    monkeypatch.setattr(sys, "argv", ["run", "no_such_case"])
    with pytest.raises(SystemExit):
        run.main()
    assert "import" in capsys.readouterr().err  # the whole-run cases are listed among the known ones


def test_next_lead_is_used_only_when_the_openapi_document_lists_it():
    assert load_test.lists_next_lead({"paths": {"/api/v1/queue/next": {"post": {}}}})
    assert not load_test.lists_next_lead({"paths": {"/api/v1/leads": {"get": {}}}})
    assert not load_test.lists_next_lead({"paths": {"/api/v1/queue/next": {"get": {}}}})


def test_memory_summary_skips_the_warm_up_and_reports_growth():
    summary = load_test.memory_summary({7: [(1.0, 80.0), (5.0, 100.0), (6.0, 101.0), (7.0, 100.5)]})
    assert summary == {"7": {"after_warmup_mb": 100.0, "end_mb": 100.5, "max_mb": 101.0, "growth_mb": 0.5, "samples": 4}}


def test_locust_csv_is_read_per_request_kind_with_failures(tmp_path):
    header = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
              "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
              "99.99%,100%\n")
    (tmp_path / "l_stats.csv").write_text(
        header + "GET,GET /api/v1/leads/<id>,10,0,12,13,5,40,900,5.0,0.0,12,13,14,15,20,30,35,40,40,40,40\n"
        ",Aggregated,12,1,12,13,5,40,900,6.0,0.5,12,13,14,15,20,31,35,39,40,40,40\n")
    (tmp_path / "l_failures.csv").write_text("Method,Name,Error,Occurrences\nPOST,POST /api/v1/touches,500: boom,1\n")
    stats = load_test.read_stats(str(tmp_path / "l"))
    assert stats["requests"]["all"] == {"requests": 12, "failures": 1, "rps": 6.0, "p50_ms": 12.0, "p95_ms": 31.0,
                                        "p99_ms": 39.0, "max_ms": 40.0}
    assert stats["requests"]["GET /api/v1/leads/<id>"]["p95_ms"] == 30.0
    assert stats["failures"] == [{"name": "POST /api/v1/touches", "error": "500: boom", "count": 1}]


def test_the_load_test_runs_gunicorn_as_the_readme_deploys_it():
    """README's production command and the systemd example carry the load test's worker settings, so its figures
    are those of the app as deployed."""
    deployed = " ".join(load_test.DEPLOYED)
    for doc in ("README.md", "docs/scheduler.md"):
        commands = re.findall(r"gunicorn (--workers [^`\n]*wsgi:app)", (ROOT / doc).read_text(encoding="utf-8"))
        assert commands and all(deployed in command for command in commands), (doc, commands)


def test_the_plan_draws_each_reps_open_leads_by_seed(bench_url):
    """Runs spread their calls over the data instead of piling touches onto the reps' first leads: each seed draws
    its own sample of a rep's open leads, and the same seed draws the same one again."""
    first, again, other = (load_test.build_plan(bench_url, 3, leads_per_rep=5, seed=seed) for seed in (7, 7, 8))
    load_test.revoke_tokens(bench_url)

    def chosen(plan):
        return {rep["id"]: rep["leads"] for rep in plan["reps"]}

    assert chosen(first) == chosen(again) != chosen(other) and first["seed"] == 7
    engine = sa.create_engine(bench_url)
    with engine.connect() as conn:
        for rep_id, ids in chosen(other).items():
            owned = set(conn.scalars(sa.text("SELECT id FROM leads WHERE owner_id = :u AND status = 'open'"),
                                     {"u": rep_id}))
            assert len(ids) == min(5, len(owned)) and set(ids) <= owned
    engine.dispose()


def test_load_test_against_gunicorn_answers_every_request(bench_url):
    if not (Path(sys.executable).parent / "locust").exists():
        skip_or_fail("locust is not installed (it is in the dev extra: pip install -e '.[dev]')")
    result = load_test.load_test(bench_url, workers=1, users=3, reps=3, seconds=4, max_requests=2000)
    total = result["requests"]["all"]
    assert total["requests"] > 0 and total["failures"] == 0 and result["failures"] == []
    assert {"GET /api/v1/leads/<id>", "POST /api/v1/touches", "GET /api/v1/contacts?q="} <= set(result["requests"])
    assert len(result["web_workers_memory"]) == 1 and result["next_lead_included"] in (True, False)


def test_wrk_mix_sends_every_kind_and_only_one_when_asked(bench_url):
    if shutil.which("wrk") is None:
        skip_or_fail("wrk is not installed (apt-get install wrk; .ci/run installs it)")
    result = load_test.load_test(bench_url, workers=1, reps=3, seconds=3, tool="wrk", connections=2)
    total = result["requests"]["all"]
    assert total["requests"] > 0 and total["failures"] == 0 and result["failures"] == []
    kinds = {"lead", "timeline", "log_call", "search"} | ({"next_lead"} if result["next_lead_included"] else set())
    assert {k for k, n in result["sent"].items() if n} == kinds
    assert result["tool_cpu_s"] >= 0 and "wrk connections: 2" in load_test.report(result)
    searches = load_test.load_test(bench_url, workers=1, reps=3, seconds=2, tool="wrk", connections=2, only="search")
    assert {k for k, n in searches["sent"].items() if n} == {"search"} and searches["requests"]["all"]["failures"] == 0
    assert "only search requests" in load_test.report(searches)
    with pytest.raises(SystemExit, match="--tool wrk"):
        load_test.load_test(bench_url, tool="locust", only="search")


def test_outbox_drain_case_wraps_outbox_bench_and_reports_messages_per_second(bench_url):
    from bench.cases import outbox_drain

    row = outbox_drain(bench_url, messages=200)
    assert row["unit"] == "messages/s" and row["rate"] > 0 and row["duplicates"] == 0 and row["size"] == "200 messages"
