"""Many reps pressing Next lead at once: claims per second, and proof that no lead is handed out twice.

    .venv/bin/python -m bench.claim_bench [--url URL] [--claimants 20] [--pool 20000] [--seconds 20]
    .venv/bin/python -m bench.claim_bench --cadences-only     # just add cadence enrollments for bench.run

Against a database built by bench/generate.py (its 1M leads stay; nothing is deleted). Each run adds a
team in pool mode with ``--claimants`` reps and ``--pool`` unassigned leads, then starts one process per
rep (own app, own connection). Each rep loops: claim_next → commit → log "no answer" through the lead
workspace's service (log_outcome) → commit, until the time is up or the pool is empty. Reported: claims
per second over the run's wall time (claims and logging together), the claim's own latency, and the
number of leads handed to more than one rep (must be 0). ``--claim-only`` replaces the logging with one
UPDATE that has the same effect on the queue (the lead is touched and let go), to measure the claim alone.

``--cadences`` (default on) first gives one open lead in seven an active enrollment in a default
cadence with steps due over the last days (once per database), so the work list's cadence branch has data.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bench.common import cpu_seconds
from bench.generate import DEFAULT_URL

STEPS = [("call", 0, "09:00", "12:00"), ("call", 1, "14:00", "17:00"), ("call", 3, "10:00", "13:00"),
         ("email", 5, "09:00", "17:00")]


def add_cadences(engine) -> int:
    """One open lead in seven enrolled in a default cadence, steps due in the last days (once per database)."""
    with engine.begin() as conn:
        if conn.scalar(sa.text("SELECT count(*) FROM cadence_enrollments")):
            return 0
        cadence = conn.scalar(sa.text(
            "INSERT INTO cadences (name, is_default, active, created_at, updated_at) "
            "VALUES ('Bench: three calls, then an email', true, true, now(), now()) RETURNING id"))
        for position, (channel, offset, start, end) in enumerate(STEPS):
            conn.execute(sa.text(
                "INSERT INTO cadence_steps (cadence_id, position, day_offset, window_start, window_end, channel, "
                "only_if_unreached) VALUES (:c, :p, :o, :s, :e, :ch, :u)"),
                {"c": cadence, "p": position, "o": offset, "s": start, "e": end, "ch": channel, "u": channel == "email"})
        added = conn.execute(sa.text(
            "INSERT INTO cadence_enrollments (lead_id, cadence_id, step_position, next_step_at, state, started_at, "
            "ended_reason, created_at, updated_at) "
            "SELECT id, :c, id % 4, now() - (id % 240) * interval '1 hour' + interval '120 hours', 'active', "
            "created_at, '', now(), now() FROM leads WHERE status = 'open' AND id % 7 = 0"), {"c": cadence}).rowcount
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE cadence_enrollments"))  # autovacuum may be busy for minutes after a bulk load
    return added


def make_pool(app, claimants: int, pool: int) -> list[int]:
    """A new team in pool mode, its reps, and ``pool`` unassigned leads; the reps' ids."""
    from crm.auth.models import Role, Team, User
    from crm.contacts.folding import name_key
    from crm.contacts.models import Contact
    from crm.db import bulk_insert
    from crm.extensions import db
    from crm.leads.models import Lead

    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    with app.app_context():
        team = Team(name=f"Claim bench {stamp}", pool_mode=True, timezone="Europe/Lisbon")
        db.session.add(team)
        db.session.flush()
        reps = [User(email=f"claim{n}-{stamp}@bench.example", name=f"Claimant {n}", role=Role.REP, team=team,
                     password_hash="!no-sign-in") for n in range(claimants)]  # noqa: S106 (no one signs in as these)
        db.session.add_all(reps)
        db.session.flush()
        now = datetime.now(UTC)
        contact_ids = bulk_insert(db.session, Contact.__table__, [
            {"first_name": f"Pool{n}", "last_name": "Bench", "search_name": name_key(f"Pool{n}", "Bench"),
             "timezone": "Europe/Lisbon", "locale": "pt",
             "do_not_call": False, "email_opt_out": False, "team_id": team.id, "phone": f"+351910{n:06d}",
             "created_at": now, "updated_at": now} for n in range(pool)])
        bulk_insert(db.session, Lead.__table__, [
            {"contact_id": cid, "title": f"Pool lead {n}", "stage": "discover", "status": "open", "lost_note": "",
             "team_id": team.id, "currency": "EUR", "score": n % 100, "stage_changed_at": now,
             "created_at": now - timedelta(seconds=pool - n), "updated_at": now}
            for n, cid in enumerate(contact_ids)])
        db.session.commit()
        return [r.id for r in reps]


def claimant(url: str, rep_id: int, seconds: float, start, results, claim_only: bool = False) -> None:
    import sqlalchemy as sa

    from crm import create_app
    from crm.auth.models import User
    from crm.extensions import db
    from crm.queue.service import _claim_statement, claim_next, log_outcome

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
    claims, latencies = [], []
    with app.app_context():
        rep = db.session.get(User, rep_id)
        backend = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        db.session.commit()
        _claim_statement(rep.team_id is not None, False)  # built once per process, as in a web worker: not measured
        start.wait()
        cpu_before, backend_before = time.process_time(), cpu_seconds(backend)
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            t = time.perf_counter()
            claim = claim_next(rep)
            lead_id = claim.lead.id if claim is not None else None
            db.session.commit()
            latencies.append((time.perf_counter() - t) * 1000)
            if claim is None:
                break
            claims.append(lead_id)
            if claim_only:  # what logging does to the queue (touched, let go), in one statement
                db.session.execute(sa.text("UPDATE leads SET first_touch_at = now(), last_touch_at = now(), "
                                           "claimed_by_id = NULL, claim_expires_at = NULL WHERE id = :id"),
                                   {"id": lead_id})
            else:
                log_outcome(rep, claim.lead, outcome="no_answer", had_lease=True)
            db.session.commit()
        elapsed = time.perf_counter() - began
        cpu = (time.process_time() - cpu_before, cpu_seconds(backend) - backend_before)
        db.session.remove()
    results.put((rep_id, claims, latencies, elapsed, cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--claimants", type=int, default=20)
    parser.add_argument("--pool", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--no-cadences", action="store_true")
    parser.add_argument("--cadences-only", action="store_true")
    parser.add_argument("--claim-only", action="store_true",
                        help="instead of logging each lead, mark it touched and let go in one UPDATE")
    args = parser.parse_args()

    from crm import create_app

    engine = sa.create_engine(args.url)
    if not args.no_cadences:
        print(f"cadence enrollments added: {add_cadences(engine)}")
    if args.cadences_only:
        return
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url})
    rep_ids = make_pool(app, args.claimants, args.pool)
    print(f"{args.claimants} claimants, {args.pool} leads in their pool; running {args.seconds:.0f} s …")
    ctx = mp.get_context("spawn")
    start, results = ctx.Barrier(args.claimants), ctx.Queue()
    procs = [ctx.Process(target=claimant, args=(args.url, rep_id, args.seconds, start, results,
                                                                  args.claim_only)) for rep_id in rep_ids]
    for p in procs:
        p.start()
    rows = [results.get(timeout=args.seconds + 300) for _ in procs]
    for p in procs:
        p.join()
    claims = [lead for _, leads, _, _, _ in rows for lead in leads]
    latencies = sorted(ms for _, _, lats, _, _ in rows for ms in lats)
    wall = max(elapsed for _, _, _, elapsed, _ in rows)
    claimant_cpu = sum(cpu[0] for *_, cpu in rows)
    backend_cpu = sum(cpu[1] for *_, cpu in rows)
    duplicates = sum(n - 1 for n in Counter(claims).values() if n > 1)
    what = "claim + one UPDATE per lead" if args.claim_only else "claim + log per lead"
    print(f"claims: {len(claims)} in {wall:.1f} s = {len(claims) / wall:.0f} claims/s ({what})")
    print(f"claim latency: median {statistics.median(latencies):.1f} ms, "
          f"p95 {latencies[int(len(latencies) * .95) - 1]:.1f} ms")
    print(f"leads handed out twice: {duplicates}")
    if claims:
        per_claim = (claimant_cpu + backend_cpu) / len(claims)
        print(f"CPU per claim cycle: claimants {claimant_cpu / len(claims) * 1000:.2f} ms + PostgreSQL "
              f"{backend_cpu / len(claims) * 1000:.2f} ms → {os.cpu_count()} idle cores would sustain at most "
              f"{os.cpu_count() / per_claim:.0f} claims/s; load average {os.getloadavg()[0]:.1f} at the end")
    with engine.connect() as conn:
        print("data: " + ", ".join(f"{t}={conn.scalar(sa.text(f'SELECT count(*) FROM {t}'))}"
                                   for t in ("leads", "touches", "cadence_enrollments")))
    if duplicates:
        raise SystemExit("a lead was handed out twice")


if __name__ == "__main__":
    main()
