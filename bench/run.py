"""Run named benchmarks against a database built by bench/generate.py.

    .venv/bin/python -m bench.run [NAME ...] [--url URL] [--repeat 50] [--json FILE]

Each case is timed in-process through the real app (Flask test client or the
service function), after a warm-up; for cases with a raw-SQL twin the same SQL is
timed directly and the ratio printed. Results go to bench/results/<time>.json too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask import g

from bench.cases import CASES, THROUGHPUT, Context
from bench.generate import DEFAULT_URL
from crm import create_app
from crm.extensions import db

RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn, repeat: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2), "n": len(ordered)}


def data_size(session) -> dict:
    return {t: session.execute(sa.text(f"SELECT reltuples::bigint FROM pg_class WHERE relname = '{t}'")).scalar()
            for t in ("leads", "contacts", "touches")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"cases to run (default all): {', '.join([*CASES, *THROUGHPUT])}")
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    unknown = set(args.names) - set(CASES) - set(THROUGHPUT)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; known: {', '.join([*CASES, *THROUGHPUT])}")
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    results = {"when": datetime.now().isoformat(timespec="seconds"), "url": args.url.split("@")[-1], "cases": {}}
    with app.app_context():
        results["data"] = data_size(db.session)
        ctx = Context.build(app)
        print(f"data: {results['data']}")
        print(f"{'case':<22}{'median ms':>11}{'p95 ms':>10}{'raw SQL ms':>12}{'ratio':>8}")
        for name in [n for n in args.names or list(CASES) if n in CASES]:
            case = CASES[name]
            run = case.prepare(ctx)
            row = summary(timed(run, args.repeat))
            if case.raw_sql is not None:
                raw_sql = case.raw_sql(ctx)
                statements = raw_sql if isinstance(raw_sql, list) else [raw_sql]  # a list: all of them, in turn
                raw = summary(timed(lambda st=statements: [r.all() if r.returns_rows else None for r in
                                                           (db.session.execute(sa.text(s), p) for s, p in st)],
                                    args.repeat))
                row["raw_sql_median_ms"] = raw["median_ms"]
                row["ratio"] = round(row["median_ms"] / raw["median_ms"], 2) if raw["median_ms"] else None
            db.session.rollback()
            g.pop("_login_user", None)  # requests here share the harness's `g`: drop the user an API case left
            results["cases"][name] = row
            print(f"{name:<22}{row['median_ms']:>11}{row['p95_ms']:>10}"
                  f"{row.get('raw_sql_median_ms', '—'):>12}{row.get('ratio', '—'):>8}")
    for name in [n for n in args.names or list(THROUGHPUT) if n in THROUGHPUT]:
        row = THROUGHPUT[name].measure(args.url)
        results["cases"][name] = row
        print(f"{name:<22}{row['rate']:>9.0f} {row['unit']} in {row['seconds']} s ({row['size']}, its own fresh data)")
    results["load_avg_1m"] = round(os.getloadavg()[0], 1)
    RESULTS.mkdir(exist_ok=True)
    out = Path(args.json) if args.json else RESULTS / f"{results['when'].replace(':', '')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
