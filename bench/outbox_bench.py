"""Outbox benchmark: two sender processes drain 10,000 queued emails against a local SendGrid stand-in.

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/outbox_bench.py [--messages 10000] [--senders 2]

Creates a fresh PostgreSQL database (dropped afterwards), migrates it, queues the
messages through queue_email (one contact each, so every send also logs a touch),
starts a threaded HTTP server on 127.0.0.1 answering 202 like SendGrid, and runs
``flask --app wsgi crm send-outbox`` in N processes at once. The stand-in counts
requests per message id (our custom_args), so a duplicate cannot hide.
Exits non-zero if any message was sent twice, not sent, or below the target rate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import create_database, drop_database  # noqa: E402  (after the path above)

TARGET_PER_SECOND = 200


class StandIn(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default listen backlog (5) drops connects under load: 1 s SYN retries

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.first: float | None = None
        self.last: float | None = None


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        message_id = json.loads(body)["custom_args"]["touchline_message_id"]
        server: StandIn = self.server
        now = time.perf_counter()
        with server.lock:
            server.counts[message_id] += 1
            server.first = server.first or now
            server.last = now
        self.send_response(202)
        self.send_header("X-Message-Id", f"bench-{message_id}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        return


def queue_messages(url: str, count: int) -> float:
    from crm import create_app
    from crm.contacts.models import Contact
    from crm.email.outbox import queue_email
    from crm.extensions import db
    from crm.schema import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade(db.engine)
        started = time.perf_counter()
        db.session.execute(sa.insert(Contact), [
            {"first_name": f"Person{n}", "last_name": "Bench", "email": f"person{n}@bench.example", "timezone": "UTC",
             "locale": "en"} for n in range(count)])
        contacts = db.session.scalars(sa.select(Contact).order_by(Contact.id)).all()
        for n, contact in enumerate(contacts):
            queue_email(idempotency_key=f"bench:{n}", contact=contact, subject="Hello {{ contact.first_name }}",
                        body="Hi {{ contact.first_name }},\nthis is message " + str(n) + ".")
        db.session.commit()
        elapsed = time.perf_counter() - started
        db.engine.dispose()
    return elapsed


def check_database(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.text("SELECT status, count(*) FROM outbound_emails GROUP BY status")).all())
        touches = conn.execute(sa.text("SELECT count(*) FROM touches WHERE provider = 'sendgrid'")).scalar()
    engine.dispose()
    return {**statuses, "touches": touches}


def _cpu(who) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database.")
    args = parser.parse_args()
    if not args.database_url or not args.database_url.startswith("postgresql"):
        parser.error("set BENCH_DATABASE_URL (or --database-url) to a PostgreSQL server URL")

    url = create_database(args.database_url)
    server = StandIn()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        queue_seconds = queue_messages(url, args.messages)
        print(f"queued {args.messages} messages in {queue_seconds:.1f} s")
        env = {**os.environ, "DATABASE_URL": url, "SENDGRID_API_KEY": "SG.bench",
               "SENDGRID_API_HOST": f"http://127.0.0.1:{server.server_port}", "SECRET_KEY": "bench",
               "FLASK_APP": "wsgi"}
        flask = str(Path(sys.executable).with_name("flask"))
        own_cpu = _cpu(resource.RUSAGE_SELF)
        started = time.perf_counter()
        senders = [subprocess.Popen([flask, "crm", "send-outbox"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True) for _ in range(args.senders)]
        outputs = [p.communicate()[0].strip() for p in senders]
        wall = time.perf_counter() - started
        sender_cpu, stand_in_cpu = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF) - own_cpu
        for n, (process, output) in enumerate(zip(senders, outputs, strict=True), 1):
            print(f"sender {n} (exit {process.returncode}): {output.splitlines()[-1] if output else ''}")
        sent = sum(server.counts.values())
        duplicates = {k: v for k, v in server.counts.items() if v > 1}
        drain_seconds = (server.last - server.first) if server.first else float("inf")
        rate = sent / drain_seconds if drain_seconds else 0.0
        state = check_database(url)
        print(f"requests {sent}, distinct messages {len(server.counts)}, duplicates {len(duplicates)}")
        print(f"database: {state}")
        print(f"CPU: senders {sender_cpu:.1f} s ({sender_cpu / max(sent, 1) * 1000:.2f} ms/message), "
              f"stand-in {stand_in_cpu:.1f} s")
        print(f"drain {drain_seconds:.2f} s (first to last request): {rate:.0f} messages/s; "
              f"wall {wall:.2f} s with process start: {sent / wall:.0f} messages/s")
        ok = (not duplicates and len(server.counts) == args.messages and state.get("sent") == args.messages
              and state["touches"] == args.messages and all(p.returncode == 0 for p in senders))
        if not ok:
            print("FAILED: duplicates, missing messages or a sender error", file=sys.stderr)
            return 1
        if rate < TARGET_PER_SECOND:
            print(f"BELOW TARGET: {rate:.0f} < {TARGET_PER_SECOND} messages/s", file=sys.stderr)
            return 2
        return 0
    finally:
        server.shutdown()
        if not args.keep:
            drop_database(args.database_url, url)


if __name__ == "__main__":
    raise SystemExit(main())
