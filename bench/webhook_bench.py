"""Webhook benchmark: signed call events into gunicorn (4 workers) on PostgreSQL, from wrk on loopback.

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/webhook_bench.py [--calls 6000] [--batch 1] [--new 50] [--workers 4] [--connections 16]

Creates a fresh PostgreSQL database (dropped afterwards), migrates it, makes a calls
integration, 20 agents and contacts for the known callers (see --new). Each call has
queued, answered and ended events (one in ten is abandoned instead of answered); the
events are shuffled within a window, so many arrive before their call's queued event and
events of one call race each other in different workers; --new sets the share of callers
Touchline does not know (each becomes a contact and a lead, assigned round-robin under the
team row lock, which serialises those posts). Every request is signed ahead
(timestamps stay inside the 5-minute window) and posted exactly once by wrk
(bench/webhook_bench.lua). Then the database is checked: one touch per call, every event
stored once and applied, the touch's figures as the events say, one contact per new
number. Also printed: the CPU seconds per event of the gunicorn workers and of the database's
PostgreSQL backends, which other engineers' load on the shared cores hardly changes. Exits
non-zero if anything was lost or doubled, or below the target rate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu_seconds, create_database, drop_database  # noqa: E402  (after the path above)

TARGET_PER_SECOND = 500
AGENTS = 20
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def number(n: int) -> str:
    return f"+35191{n:07d}"


def is_known(n: int, new_percent: int) -> bool:
    return (n * 37) % 100 >= new_percent  # spread evenly over the run


def prepare(url: str, calls: int, new_percent: int) -> tuple[int, str]:
    """Migrate; an integration, agents, and contacts for all but ``new_percent`` % of the callers."""
    from crm import create_app
    from crm.auth.models import Role, Team, User
    from crm.contacts.models import Contact
    from crm.extensions import db
    from crm.integrations import service
    from crm.schema import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade(db.engine)
        team = Team(name="Inbound")
        db.session.add(team)
        db.session.flush()
        db.session.execute(sa.insert(User), [
            {"email": f"agent{n}@bench.example", "name": f"Agent {n}", "role": Role.REP, "team_id": team.id,
             "password_hash": "x", "timezone": "UTC", "locale": "en", "hourly_cost": 0, "active": True,
             "territory": ""} for n in range(AGENTS)])
        db.session.execute(sa.insert(Contact), [
            {"first_name": f"Known{n}", "last_name": "Caller", "phone": number(n), "timezone": "UTC", "locale": "en"}
            for n in range(calls) if is_known(n, new_percent)])
        integration = service.create_integration(name="Bench ACD", channel="calls", team_id=team.id, actor=None)
        db.session.commit()
        # Statistics, as autovacuum would have them on a live database: without them the planner
        # reads the callers by the phone trigram index (GIN, made for search), ~1 ms a number.
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        result = integration.integration.id, integration.secret
        db.engine.dispose()
    return result


def call_events(n: int) -> list[dict]:
    at = T0 + timedelta(seconds=n)
    call_id = f"bench-{n}"
    events = [{"event_id": f"{call_id}-q", "type": "queued", "call_id": call_id, "occurred_at": at.isoformat(),
               "ani": number(n), "dnis": "+351210000000"}]
    if n % 10 == 9:
        events.append({"event_id": f"{call_id}-x", "type": "abandoned", "call_id": call_id,
                       "occurred_at": (at + timedelta(seconds=40)).isoformat()})
    else:
        events.append({"event_id": f"{call_id}-a", "type": "answered", "call_id": call_id,
                       "occurred_at": (at + timedelta(seconds=12)).isoformat(),
                       "agent_email": f"agent{n % AGENTS}@bench.example"})
        events.append({"event_id": f"{call_id}-e", "type": "ended", "call_id": call_id,
                       "occurred_at": (at + timedelta(seconds=200)).isoformat(), "talk_seconds": 150,
                       "hold_seconds": 10, "wrap_seconds": 30, "recording_url": f"https://rec.example/{call_id}.wav"})
    return events


def write_requests(path: Path, calls: int, batch: int, integration_id: int, secret: str, seed: int) -> int:
    from crm.integrations.signing import sign

    events = [e for n in range(calls) for e in call_events(n)]
    rng = random.Random(seed)
    window = 64  # shuffle within a sliding window: out of order, but each call's events close together
    for start in range(0, len(events), window):
        chunk = events[start:start + window]
        rng.shuffle(chunk)
        events[start:start + window] = chunk
    ts = int(time.time())
    lines = []
    for start in range(0, len(events), batch):
        body = json.dumps({"events": events[start:start + batch]}, separators=(",", ":"))
        lines.append(f"{integration_id}\t{ts}\t{sign(secret, ts, body.encode())}\t{body}")
    path.write_text("\n".join(lines) + "\n")
    return len(events)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def warm_up(port: int, posts: int) -> None:
    """Unsigned posts (401, nothing changes) until every worker has imported the app and connected."""
    import urllib.error
    import urllib.request

    for _ in range(posts):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/calls", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as exc:
            assert exc.code == 401, exc.code


def serving_cpu(gunicorn_pid: int, url: str) -> dict[str, float]:
    """CPU seconds used so far by the gunicorn workers and by the benchmark database's PostgreSQL backends.

    Load-independent where rates are not: other engineers' work on the shared cores slows the
    rate, not the CPU each event costs. (A backend that closed mid-run would be missed; the
    workers' pools keep theirs open; autovacuum is not counted.)"""
    children = Path(f"/proc/{gunicorn_pid}/task/{gunicorn_pid}/children").read_text().split()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        backends = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")).scalars().all()
    engine.dispose()
    return {"app": sum(cpu_seconds(int(pid)) for pid in children),
            **{f"pg:{pid}": cpu_seconds(pid) for pid in backends}}


def stop_when_stored(wrk: subprocess.Popen, url: str, events: int) -> None:
    """wrk's main thread sleeps its whole -d even when every thread has stopped: interrupt it
    (SIGINT: it still prints its summary) once every event is stored, or when it ends by itself."""
    engine = sa.create_engine(url)
    try:
        while wrk.poll() is None:
            time.sleep(0.5)
            with engine.connect() as conn:
                if conn.execute(sa.text("SELECT count(*) FROM inbound_events")).scalar() >= events:
                    break
        time.sleep(1.0)  # the last answers are still on their way to wrk
        if wrk.poll() is None:
            wrk.send_signal(signal.SIGINT)
    finally:
        engine.dispose()


def check_database(url: str, calls: int, events: int, new_callers: int) -> dict:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        q = lambda sql: conn.execute(sa.text(sql)).scalar()  # noqa: E731
        state = {
            "touches": q("SELECT count(*) FROM touches WHERE provider LIKE 'integration:%'"),
            "distinct_calls": q("SELECT count(DISTINCT external_id) FROM touches WHERE provider LIKE 'integration:%'"),
            "events": q("SELECT count(*) FROM inbound_events"),
            "unprocessed": q("SELECT count(*) FROM inbound_events WHERE processed_at IS NULL"),
            "connected": q("SELECT count(*) FROM touches WHERE outcome = 'connected' AND talk_seconds = 150 "
                           "AND queue_seconds = 12 AND user_id IS NOT NULL AND ended_at IS NOT NULL"),
            "abandoned": q("SELECT count(*) FROM touches WHERE outcome = 'abandoned' AND queue_seconds = 40"),
            "contacts": q("SELECT count(*) FROM contacts"),
            "contacts_per_number_max": q("SELECT coalesce(max(c), 0) FROM (SELECT count(*) c FROM contacts "
                                         "GROUP BY phone) s"),
            "leads": q("SELECT count(*) FROM leads"),
            "screen_pops": q("SELECT count(*) FROM screen_pops"),
            "window_seconds": q("SELECT extract(epoch FROM max(received_at) - min(received_at)) FROM inbound_events"),
        }
    engine.dispose()
    abandoned = calls // 10
    state["ok"] = (state["touches"] == calls == state["distinct_calls"] and state["events"] == events
                   and state["unprocessed"] == 0 and state["connected"] == calls - abandoned
                   and state["abandoned"] == abandoned and state["contacts_per_number_max"] == 1
                   and state["contacts"] == calls and state["leads"] == new_callers)
    return state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=1, help="events per request (1: one event per post)")
    parser.add_argument("--new", type=int, default=50, help="percent of calls from unknown numbers (new contact + lead)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads-per-worker", type=int, default=4, help="gunicorn gthread threads per worker")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--duration", type=int, default=240, help="wrk stops by then at the latest")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database.")
    args = parser.parse_args()
    if not args.database_url or not args.database_url.startswith("postgresql"):
        parser.error("set BENCH_DATABASE_URL (or --database-url) to a PostgreSQL server URL")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")

    url = create_database(args.database_url)
    tmp = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    gunicorn = None
    try:
        integration_id, secret = prepare(url, args.calls, args.new)
        requests_file = tmp / "requests.tsv"
        events = write_requests(requests_file, args.calls, args.batch, integration_id, secret, args.seed)
        posts = len(requests_file.read_text().splitlines())
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "CRM_ENV": "production",
               "CRM_INSTANCE_PATH": str(tmp)}
        gunicorn = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-w", str(args.workers), "-k", "gthread", "--threads",
             str(args.threads_per_worker), "-b", f"127.0.0.1:{port}",
             "--log-level", "error", "--backlog", "512", "wsgi:app"], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=open(tmp / "gunicorn.log", "w"))  # noqa: SIM115
        wait_for(port)
        warm_up(port, args.workers * 4)
        cpu_before = serving_cpu(gunicorn.pid, url)
        wrk_env = {**os.environ, "BENCH_REQUESTS": str(requests_file), "BENCH_THREADS": str(args.threads)}
        started = time.perf_counter()
        wrk = subprocess.Popen(["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s",
                                "--latency", "--timeout", "10s", "-s", str(ROOT / "bench" / "webhook_bench.lua"),
                                f"http://127.0.0.1:{port}"], env=wrk_env, stdout=subprocess.PIPE, text=True)
        stop_when_stored(wrk, url, events)
        cpu_after = serving_cpu(gunicorn.pid, url)
        stdout, _ = wrk.communicate()
        wall = time.perf_counter() - started
        print(stdout)
        requests_per_s = float(re.search(r"Requests/sec:\s+([\d.]+)", stdout).group(1))
        non200 = int(re.search(r"NON200 (\d+)", stdout).group(1))
        state = check_database(url, args.calls, events, sum(not is_known(n, args.new) for n in range(args.calls)))
        print(f"{args.calls} calls ({args.new} % from new numbers), {events} events in {posts} posts of {args.batch}; "
              f"gunicorn -w {args.workers} "
              f"-k gthread --threads {args.threads_per_worker}, "
              f"wrk -t{args.threads} -c{args.connections}")
        print(f"database: {state}")
        window = float(state["window_seconds"] or 0)
        rate = events / window if window else 0.0
        print(f"server side: {events} events received over {window:.1f} s (first to last) = {rate:.0f} call events/s "
              f"= {posts / window if window else 0:.0f} posts/s; wrk: {requests_per_s:.0f} requests/s over its run "
              f"(incl. its idle tail); wall {wall:.1f} s; non-200 answers: {non200}")
        app_cpu = cpu_after["app"] - cpu_before["app"]
        pg_cpu = sum(v - cpu_before.get(k, 0.0) for k, v in cpu_after.items() if k != "app")
        print(f"CPU: gunicorn workers {app_cpu:.1f} s = {app_cpu / events * 1000:.2f} ms/event, PostgreSQL backends "
              f"{pg_cpu:.1f} s = {pg_cpu / events * 1000:.2f} ms/event; load average {os.getloadavg()[0]:.2f}")
        if not state["ok"] or non200:
            print("FAILED: events lost or doubled, or a post refused", file=sys.stderr)
            print((tmp / "gunicorn.log").read_text()[-3000:], file=sys.stderr)
            return 1
        if rate < TARGET_PER_SECOND:
            print(f"BELOW TARGET: {rate:.0f} < {TARGET_PER_SECOND} events/s", file=sys.stderr)
            return 2
        return 0
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
        if not args.keep:
            drop_database(args.database_url, url)


if __name__ == "__main__":
    raise SystemExit(main())
