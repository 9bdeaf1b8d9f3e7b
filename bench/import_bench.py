"""Import throughput and memory: a generated CSV into a fresh PostgreSQL database.

    .venv/bin/python -m bench.import_bench [--rows 100000 25000] [--url URL]

Runs the same path as `crm import` (streamed rows, validated, written in batches,
one commit per batch) and prints rows/s and the peak resident memory for each size,
so that memory not growing with the file can be seen.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import tempfile
import time

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/touchline_import_bench"
COUNTRIES = [("PT", "+35191{}", 7), ("RO", "+40722{}", 6), ("GB", "+44791{}", 7), ("RU", "+7916{}", 7)]


def write_csv(path: str, rows: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("First Name,Last Name,Email Address,Mobile Phone,Company Name,Lead Source,Country,Amount\n")
        for i in range(rows):
            code, pattern, digits = COUNTRIES[i % len(COUNTRIES)]
            phone = pattern.format(str(10 ** (digits - 1) + (i * 7919) % (9 * 10 ** (digits - 1))))
            bad = i % 50 == 0  # 2 % bad rows, as real files have
            fh.write(f"Name{i},Surname{i % 997},{'broken' if bad else f'p{i}@example.com'},{phone},"
                     f"Company {i % 3000},{rng.choice(['web', 'fair', 'referral'])},{code},{rng.randint(100, 9000)}\n")


def run(url: str, rows: int, queue) -> None:
    import sqlalchemy as sa

    from bench.common import cpu_seconds
    from bench.generate import recreate
    from crm import create_app
    from crm.auth.service import create_user
    from crm.extensions import db
    from crm.imports import service

    recreate(url)
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as tmp:
        path = tmp.name
    write_csv(path, rows)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        boss = create_user("bench.admin@example.com", "bench-password-1", "admin")
        for n in range(10):
            create_user(f"bench.rep{n}@example.com", "bench-password-1", "rep", team="Bench")
        db.session.commit()
        team_id = db.session.execute(sa.text("SELECT id FROM teams WHERE name = 'Bench'")).scalar()
        sniffed = service.sniff(path)
        backend = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        pg_before, cpu_before = cpu_seconds(backend, gone=float("-inf")), time.process_time()
        load_before = os.getloadavg()[0]
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        counts = [0, 0, 0]
        for _size, result in service.import_file(path, sniffed.mapping, encoding=sniffed.encoding,
                                                 delimiter=sniffed.delimiter, actor=boss, team_id=team_id,
                                                 parallel=True):
            db.session.commit()  # as `crm import` does; the identity map holds objects weakly: memory stays flat
            counts[0] += result.created
            counts[1] += result.existing
            counts[2] += len(result.rejected)
        seconds = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        pg_cpu, main_cpu = cpu_seconds(backend, gone=float("-inf")) - pg_before, time.process_time() - cpu_before
        # the validation worker has exited by now, so its CPU time is in RUSAGE_CHILDREN
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        worker_cpu = children.ru_utime + children.ru_stime
        worker_rss = children.ru_maxrss
    per_k = 1000 / rows
    queue.put({"rows": rows, "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds),
               "created": counts[0], "existing": counts[1], "rejected": counts[2],
               "peak_rss_mb": round(rss_after / 1024), "rss_growth_mb": round((rss_after - rss_before) / 1024),
               "worker_peak_rss_mb": round(worker_rss / 1024),
               # CPU seconds per 1,000 rows: comparable between runs on a shared machine, unlike rows/s
               "cpu_ms_per_1k_main": round(main_cpu * per_k * 1000), "cpu_ms_per_1k_validation": round(worker_cpu * per_k * 1000),
               "cpu_ms_per_1k_postgres": round(pg_cpu * per_k * 1000) if pg_cpu >= 0 else None,
               "load_avg_1m": f"{load_before:.1f}->{os.getloadavg()[0]:.1f}"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[25_000, 100_000])
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    for rows in args.rows:  # each size in a fresh process, so peak memory is its own
        queue = multiprocessing.Queue()
        process = multiprocessing.Process(target=run, args=(args.url, rows, queue))
        process.start()
        result = queue.get()
        process.join()
        print(" ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
