"""Load test of the app as deployed: gunicorn on loopback, PostgreSQL, a mixed rep workload (locust or wrk).

    .venv/bin/pip install -e '.[bench]'         # locust
    .venv/bin/python -m bench.generate --leads 1000000      # once (minutes)
    .venv/bin/python -m bench.load_test [--url URL] [--workers 4] [--users 80] [--seconds 60] [--max-requests 50000]
    .venv/bin/python -m bench.load_test --tool wrk [--connections 12] [--seconds 60]     # apt-get install wrk

Starts gunicorn as the README deploys it (``--workers`` sync workers, DEPLOYED; ``--worker-class gthread``
to compare threads with keep-alive; 127.0.0.1, CRM_ENV=production) against the database,
gives ``--reps`` reps an API token each and 20 of their open leads drawn by ``--seed`` (a new draw per run
unless given), and runs the mix: open a lead and its timeline, log a call,
search contacts, and next lead when the API lists it.

- ``--tool locust`` (the default): ``--users`` simulated reps, each pausing ``--wait`` between
  actions; requests/s, latency percentiles and errors per request kind.
- ``--tool wrk``: the same mix and weights from ``bench/load_mix.lua``, ``--connections`` requests in
  flight and no pauses (a closed loop: the throughput the app sustains at that concurrency);
  requests/s, latency percentiles and errors for the whole mix, and how many of each kind were sent.
  wrk is C: it costs the two cores it shares with the app ~0.1 ms per request, locust ~2 ms.
  ``--only KIND`` (wrk) sends one kind alone (open_lead, log_call, search, next_lead): which part of the
  mix costs the CPU or makes the tail.

Both print the web workers' memory sampled every second, the CPU per request of the workers,
PostgreSQL and the load tool, and the machine's load; the figures also go to
bench/results/load-<time>.json. Bounded by --seconds (and, for locust, --max-requests); nothing
leaves the loopback interface.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from bench.common import cpu_seconds
from bench.generate import DEFAULT_URL

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
# gunicorn's worker settings by --worker-class. "sync" is how the README runs the web app (README.md "Running it
# in production"; a test keeps the two the same). "gthread", to compare: keep-alive spares each request a TCP
# connect and close (+7-25 % req/s on a quiet box), but a kept-alive connection stays with the worker that
# accepted it, and a worker holding three of wrk's eight shares one GIL among three requests while another
# idles: p95 1.5-2x the sync workers' under overload. Sync workers keep the tail even, so the README keeps them.
WORKER_CLASSES = {"sync": ("--worker-class", "sync"),
                  "gthread": ("--worker-class", "gthread", "--threads", "4", "--keep-alive", "75")}
DEPLOYED = WORKER_CLASSES["sync"]
KINDS = ("open_lead", "log_call", "search", "next_lead")  # bench/load_mix.lua's, for --only
TOKEN_NAME = "loadtest"  # noqa: S105 (the name of the tokens, not a secret)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def build_plan(url: str, reps: int, leads_per_rep: int = 20, seed: int = 0) -> dict:
    """Reps with a fresh API token each, some of their open leads, and search terms they would type.

    The leads are a sample of each rep's open leads drawn by ``seed``: every run logs ~2 calls per planned lead,
    so a fixed choice (the rep's first leads by id) gave the same few thousand leads a timeline two and three
    times the data's ~10 touches after a dozen runs, and each run measured heavier leads than the last."""
    from crm import create_app
    from crm.auth.models import Role, User
    from crm.auth.service import create_token
    from crm.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    plan = {"reps": [], "seed": seed}
    rng = random.Random(seed)
    with app.app_context():
        users = db.session.scalars(sa.select(User).where(User.role == Role.REP, User.active.is_(True))
                                   .order_by(User.id).limit(reps)).all()
        open_ids = defaultdict(list)  # each rep's open leads, in id order: two statements for all reps
        for owner_id, lead_id in db.session.execute(sa.text(
                "SELECT owner_id, id FROM leads WHERE owner_id = ANY(:u) AND status = 'open' ORDER BY owner_id, id"),
                {"u": [user.id for user in users]}):
            open_ids[owner_id].append(lead_id)
        chosen = [lead_id for user in users
                  for lead_id in rng.sample(open_ids[user.id], min(leads_per_rep, len(open_ids[user.id])))]
        details = defaultdict(list)
        for row in db.session.execute(sa.text(
                "SELECT l.owner_id, l.id, c.first_name, c.last_name, c.phone, c.email FROM leads l"
                " JOIN contacts c ON c.id = l.contact_id WHERE l.id = ANY(:ids) ORDER BY l.id"), {"ids": chosen}):
            details[row[0]].append(row[1:])
        for user in users:
            rows = details[user.id]
            if not rows:
                continue
            searches = []
            for _, first, last, phone, email in rows[:4]:
                searches.append(f"{first} {last}")
                if phone:
                    national = phone[-9:]
                    searches.append(f"{national[:3]} {national[3:6]} {national[6:]}")
                if email:
                    searches.append(email.split("@")[0])
            plan["reps"].append({"id": user.id, "token": create_token(user, TOKEN_NAME), "leads": [r[0] for r in rows],
                                 "searches": searches})
        db.session.commit()
    return plan


def revoke_tokens(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_tokens SET revoked_at = now() WHERE name = :n AND revoked_at IS NULL"),
                     {"n": TOKEN_NAME})
    engine.dispose()


def start_gunicorn(url: str, port: int, workers: int, instance: str, worker_class: str = "sync") -> subprocess.Popen:
    """gunicorn as the README deploys it (DEPLOYED; no preload), plus a hook that reports each worker ready.
    ``worker_class``: a key of WORKER_CLASSES ("gthread": threads and kept-alive connections, to compare)."""
    ready = os.path.join(instance, "ready")
    os.makedirs(ready, exist_ok=True)
    env = {**os.environ, "CRM_ENV": "production", "DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(32),
           "CRM_INSTANCE_PATH": instance, "LOADTEST_READY_DIR": ready}
    return subprocess.Popen([str(BIN / "gunicorn"), "--config", str(HERE / "gunicorn_ready.py"), "--workers", str(workers),
                             *WORKER_CLASSES[worker_class], "--bind", f"{HOST}:{port}", "--log-level", "warning", "wsgi:app"],
                            cwd=ROOT, env=env, start_new_session=True)


def wait_workers(instance: str, workers: int, timeout: float = 300) -> float:
    """Seconds until every worker has loaded the app."""
    started = time.monotonic()
    while len(os.listdir(os.path.join(instance, "ready"))) < workers:
        if time.monotonic() - started > timeout:
            raise SystemExit(f"gunicorn's {workers} workers were not all up after {timeout:.0f} s")
        time.sleep(0.25)
    return time.monotonic() - started


def wait_ready(base: str, timeout: float = 90) -> dict:
    """The app's OpenAPI document, once gunicorn answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + "/api/v1/openapi.json", timeout=5) as resp:
                return json.load(resp)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def lists_next_lead(document: dict) -> bool:
    """Whether the API offers POST …/queue/next (built on another branch; counted once merged)."""
    return any(path.rstrip("/").endswith("/queue/next") and "post" in ops for path, ops in document.get("paths", {}).items())


def worker_pids(master: int) -> list[int]:
    try:
        with open(f"/proc/{master}/task/{master}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class MemorySampler(threading.Thread):
    """RSS of each gunicorn worker, once a second, while the load runs."""

    def __init__(self, master: int):
        super().__init__(daemon=True)
        self.master, self.samples, self.stop = master, {}, threading.Event()
        self.started = time.monotonic()

    def run(self):
        while not self.stop.wait(1.0):
            at = round(time.monotonic() - self.started, 1)
            for pid in worker_pids(self.master):
                value = rss_mb(pid)
                if value is not None:
                    self.samples.setdefault(pid, []).append((at, round(value, 1)))


def memory_summary(samples: dict[int, list[tuple[float, float]]], warmup_s: float = 5.0) -> dict:
    """Per worker: RSS after the warm-up, at the end, the highest, and the growth between."""
    out = {}
    for pid, series in samples.items():
        steady = [mb for at, mb in series if at >= warmup_s] or [mb for _, mb in series]
        if steady:
            out[str(pid)] = {"after_warmup_mb": steady[0], "end_mb": steady[-1], "max_mb": max(steady),
                             "growth_mb": round(steady[-1] - steady[0], 1), "samples": len(series)}
    return out


def read_stats(prefix: str) -> dict:
    """Locust's CSV summary: per request kind and the aggregate (requests, failures, req/s, percentiles)."""
    rows = {}
    with open(prefix + "_stats.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            name = "all" if row["Name"] == "Aggregated" else f"{row['Type']} {row['Name']}".replace("GET GET", "GET") \
                .replace("POST POST", "POST")
            rows[name] = {"requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                          "rps": round(float(row["Requests/s"]), 1), "p50_ms": _ms(row["50%"]), "p95_ms": _ms(row["95%"]),
                          "p99_ms": _ms(row["99%"]), "max_ms": _ms(row["Max Response Time"])}
    failures = []
    if os.path.exists(prefix + "_failures.csv"):
        with open(prefix + "_failures.csv", newline="") as fh:
            failures = [{"name": r["Name"], "error": r["Error"][:300], "count": int(r["Occurrences"])}
                        for r in csv.DictReader(fh)]
    return {"requests": rows, "failures": failures}


def _ms(value: str) -> float | None:
    return None if value in ("", "N/A") else round(float(value), 1)


def run_locust(base: str, plan_path: str, prefix: str, *, users: int, seconds: int, max_requests: int, queue: bool,
               wait: tuple[float, float]) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOADTEST_PLAN": plan_path, "LOADTEST_QUEUE": "1" if queue else "0",
           "LOADTEST_MAX_REQUESTS": str(max_requests), "LOADTEST_WAIT_MIN": str(wait[0]), "LOADTEST_WAIT_MAX": str(wait[1])}
    return subprocess.run([str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless", "--host", base,
                           "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--stop-timeout", "5",
                           "--csv", prefix, "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120, check=False)


def write_wrk_plan(plan: dict, path: str) -> None:
    """The plan as load_mix.lua reads it: token, lead ids and URL-encoded search terms per line."""
    with open(path, "w", encoding="utf-8") as fh:
        for rep in plan["reps"]:
            terms = "|".join(urllib.parse.quote(term, safe="") for term in rep["searches"])
            fh.write(f"{rep['token']}\t{','.join(str(i) for i in rep['leads'])}\t{terms}\n")


def run_wrk(base: str, plan_path: str, out_path: str, *, connections: int, seconds: int, queue: bool,
            only: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOADMIX_PLAN": plan_path, "LOADMIX_QUEUE": "1" if queue else "0", "LOADMIX_OUT": out_path,
           "LOADMIX_RUN": secrets.token_hex(4), "LOADMIX_ONLY": only or ""}
    return subprocess.run(["wrk", "--threads", "1", "--connections", str(connections), "--duration", f"{seconds}s",
                           "--timeout", "10s", "--script", str(HERE / "load_mix.lua"), base],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 60, check=False)


def read_wrk(out_path: str, stderr: str) -> dict:
    """wrk's figures in the shape read_stats gives locust's: one row for the whole mix."""
    with open(out_path, encoding="utf-8") as fh:
        figures = json.load(fh)
    seconds = figures["duration_us"] / 1e6
    errors = figures["errors"]
    failed = errors["status"] + errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    latency = figures["latency_us"]
    row = {"requests": figures["requests"], "failures": failed, "rps": round(figures["requests"] / seconds, 1),
           **{f"{p}_ms": round(latency[p] / 1000, 1) for p in ("p50", "p95", "p99")},
           "max_ms": round(latency["max"] / 1000, 1), "mean_ms": round(latency["mean"] / 1000, 1)}
    failures = [{"name": "HTTP " + code, "error": "answered with an error status", "count": n}
                for code, n in sorted(figures["statuses"].items()) if int(code) >= 400]
    failures += [{"name": kind, "error": "socket " + kind + " errors", "count": errors[kind]}
                 for kind in ("connect", "read", "write", "timeout") if errors[kind]]
    return {"requests": {"all": row}, "failures": failures, "sent": figures["sent"], "statuses": figures["statuses"],
            "wrk_messages": [line for line in stderr.splitlines() if line.startswith("HTTP ")][:5]}


def postgres_backends(url: str) -> list[int]:
    """Process ids of the PostgreSQL backends serving ``url``'s database (the web workers' connections)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        pids = list(conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                                         " AND pid <> pg_backend_pid()")).scalars())
    engine.dispose()
    return pids


def data_size(url: str) -> dict:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        size = {t: conn.execute(sa.text("SELECT reltuples::bigint FROM pg_class WHERE relname = :t"), {"t": t}).scalar()
                for t in ("leads", "contacts", "touches")}
    engine.dispose()
    return size


def load_test(url: str, *, workers: int = 4, users: int = 80, reps: int = 100, seconds: int = 60,
              max_requests: int = 50_000, wait: tuple[float, float] = (0.05, 0.4), tool: str = "locust",
              connections: int = 12, only: str | None = None, worker_class: str = "sync", seed: int | None = None) -> dict:
    """Run the whole load test and return its figures (see the module docstring). ``seed`` draws the reps' leads
    (build_plan); by default a new one per run, reported, so that a run can be repeated with the same leads."""
    if make_host(url) not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("The load test runs against a local database only.")
    if tool == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (or use --tool locust).")
    if only and tool != "wrk":
        raise SystemExit("--only runs one kind of request from wrk's mix: add --tool wrk.")
    seed = int(time.time()) if seed is None else seed
    plan = build_plan(url, reps, seed=seed)
    if not plan["reps"]:
        raise SystemExit("No rep owns an open lead in that database: fill it with bench.generate first.")
    port = free_port()
    base = f"http://{HOST}:{port}"
    with tempfile.TemporaryDirectory(prefix="touchline-load-") as tmp:
        plan_path = os.path.join(tmp, "plan.json")
        with open(plan_path, "w", encoding="utf-8") as fh:
            json.dump(plan, fh)
        wrk_plan, wrk_out = os.path.join(tmp, "plan.tsv"), os.path.join(tmp, "wrk.json")
        if tool == "wrk":
            write_wrk_plan(plan, wrk_plan)
        server = start_gunicorn(url, port, workers, tmp, worker_class)
        try:
            boot_seconds = wait_workers(tmp, workers)
            document = wait_ready(base)
            queue = lists_next_lead(document)
            sampler = MemorySampler(server.pid)
            load_before, cpu_before = os.getloadavg(), {p: cpu_seconds(p) for p in worker_pids(server.pid)}
            sampler.start()
            pg_before = {p: cpu_seconds(p) for p in postgres_backends(url)}
            tool_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.monotonic()
            if tool == "wrk":
                done = run_wrk(base, wrk_plan, wrk_out, connections=connections, seconds=seconds, queue=queue,
                               only=only)
            else:
                done = run_locust(base, plan_path, os.path.join(tmp, "locust"), users=users, seconds=seconds,
                                  max_requests=max_requests, queue=queue, wait=wait)
            elapsed = time.monotonic() - started
            sampler.stop.set()
            sampler.join()
            worker_cpu = sum(cpu_seconds(p) - cpu_before.get(p, 0.0) for p in worker_pids(server.pid))
            # backends opened during the run count from zero; those of the plan's engine are gone
            pg_cpu = sum(cpu_seconds(p) - pg_before.get(p, 0.0) for p in postgres_backends(url))
            tool_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            tool_cpu = (tool_after.ru_utime + tool_after.ru_stime) - (tool_before.ru_utime + tool_before.ru_stime)
            load_after = os.getloadavg()
            if tool == "wrk":
                if done.returncode != 0 or not os.path.exists(wrk_out):
                    raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stderr[-3000:]}")
                stats = read_wrk(wrk_out, done.stderr)
            else:
                if done.returncode != 0 or not os.path.exists(os.path.join(tmp, "locust_stats.csv")):
                    raise SystemExit(f"locust failed ({done.returncode}):\n{done.stderr[-3000:]}")
                stats = read_stats(os.path.join(tmp, "locust"))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            revoke_tokens(url)
    return {"when": datetime.now(UTC).isoformat(timespec="seconds"), "data": data_size(url), "gunicorn_workers": workers,
            "worker_class": worker_class, "tool": tool, "simulated_reps": users if tool == "locust" else None,
            "connections": connections if tool == "wrk" else None, "reps_with_tokens": len(plan["reps"]),
            "workers_boot_s": round(boot_seconds, 1), "seconds": round(elapsed, 1), "seed": seed,
            "next_lead_included": queue, "only": only, **stats, "web_workers_memory": memory_summary(sampler.samples),
            "web_workers_cpu_s": round(worker_cpu, 1), "postgres_cpu_s": round(pg_cpu, 1), "tool_cpu_s": round(tool_cpu, 1),
            "cores": os.cpu_count(),
            "load_avg_1m": [round(load_before[0], 1), round(load_after[0], 1)]}


def make_host(url: str) -> str:
    return sa.engine.make_url(url).host or "127.0.0.1"


def report(result: dict) -> str:
    who = (f"simulated reps: {result['simulated_reps']}" if result["tool"] == "locust"
           else f"wrk connections: {result['connections']} (no pauses)")
    lines = [f"data: {result['data']}; gunicorn workers: {result['gunicorn_workers']} "
             f"({result['worker_class']}); {who}; "
             f"{result['seconds']} s; cores: {result['cores']}; "
             f"load average (1 min) before/after: {result['load_avg_1m'][0]} / {result['load_avg_1m'][1]}; "
             f"workers up after {result['workers_boot_s']} s (not measured); leads drawn by --seed {result['seed']}",
             "next lead (POST /api/v1/queue/next): " + ("included" if result["next_lead_included"] else
                                                        "not in the app's OpenAPI document yet, so not exercised")
             + (f"; only {result['only']} requests" if result["only"] else ""),
             f"{'request':<46}{'count':>8}{'errors':>8}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>8}"]
    for name, row in sorted(result["requests"].items(), key=lambda kv: kv[0] == "all"):
        lines.append(f"{name:<46}{row['requests']:>8}{row['failures']:>8}{row['rps']:>8}{row['p50_ms'] or '—':>7}"
                     f"{row['p95_ms'] or '—':>7}{row['p99_ms'] or '—':>7}{row['max_ms'] or '—':>8}")
    if result.get("sent"):
        lines.append("sent, by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(result["sent"].items()))
                     + "; answers by status: " + ", ".join(f"{k} ×{v}" for k, v in sorted(result["statuses"].items())))
    for failure in result["failures"]:
        lines.append(f"ERROR ×{failure['count']} {failure['name']}: {failure['error']}")
    lines += [f"  {message}" for message in result.get("wrk_messages", [])]
    lines.append("web workers' RSS (MB) after warm-up → end (max):  " + "; ".join(
        f"{m['after_warmup_mb']} → {m['end_mb']} ({m['max_mb']})" for m in result["web_workers_memory"].values()))
    total = max(result["requests"].get("all", {}).get("requests", 0), 1)
    per = {k: result[k] * 1000 / total for k in ("web_workers_cpu_s", "postgres_cpu_s", "tool_cpu_s")}
    lines.append(f"CPU in {result['seconds']} s: web workers {result['web_workers_cpu_s']} s, PostgreSQL "
                 f"{result['postgres_cpu_s']} s, {result['tool']} {result['tool_cpu_s']} s = per request "
                 f"{per['web_workers_cpu_s']:.1f} + {per['postgres_cpu_s']:.1f} + {per['tool_cpu_s']:.1f} ms; "
                 f"{result['cores']} idle cores would serve at most ~{result['cores'] * 1000 / sum(per.values()):.0f} req/s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", choices=tuple(WORKER_CLASSES), default="sync",
                        help="sync: as the README deploys it (DEPLOYED); gthread: threads and keep-alive, to compare")
    parser.add_argument("--tool", choices=("locust", "wrk"), default="locust")
    parser.add_argument("--users", type=int, default=80, help="simulated reps (locust users)")
    parser.add_argument("--connections", type=int, default=12, help="requests in flight (wrk)")
    parser.add_argument("--reps", type=int, default=100, help="reps given a token (users share them round-robin)")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--wait", type=float, nargs=2, default=(0.05, 0.4), metavar=("MIN", "MAX"),
                        help="pause between a rep's actions, seconds")
    parser.add_argument("--only", choices=KINDS, default=None, help="one kind of request alone (wrk)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--seed", type=int, default=None,
                        help="draw the reps' leads as a past run did (its report names its seed); default: a new draw")
    args = parser.parse_args()
    result = load_test(args.url, workers=args.workers, users=args.users, reps=args.reps, seconds=args.seconds,
                       max_requests=args.max_requests, wait=tuple(args.wait), tool=args.tool,
                       connections=args.connections, only=args.only, worker_class=args.worker_class,
                       seed=args.seed)
    print(report(result))
    out = Path(args.json) if args.json else HERE / "results" / f"load-{result['when'].replace(':', '')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
