"""The scheduler as real processes: one leader, a standby that takes over, catching up once.

Each test gets its own committed database and starts `flask --app wsgi crm scheduler`
as subprocesses with fast test-only jobs (SCHEDULER_EXTRA_JOBS) and the real jobs
disabled, then reads what the jobs wrote.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm.scheduler.runner import discover_jobs
from crm.schema import SCHEDULER_TABLE
from tests.conftest import Database

ROOT = Path(__file__).resolve().parents[2]
EXTRA = "tests.scheduler.extra_jobs"


class SchedulerProcess:
    def __init__(self, database: Database, tmp_path: Path, name: str, enabled: set[str]):
        everything = set(discover_jobs(EXTRA).jobs)
        env = {
            **os.environ,
            "DATABASE_URL": database.url,
            "CRM_INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "scheduler-test",
            "SCHEDULER_EXTRA_JOBS": EXTRA,
            "SCHEDULER_DISABLED_JOBS": ",".join(sorted(everything - enabled)),
            "SCHEDULER_LOCK_RETRY_SECONDS": "1",
            "PYTHONPATH": str(ROOT),
        }
        env.pop("CRM_ENV", None)
        self.log_path = tmp_path / f"{name}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "crm", "scheduler"],
                                     cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, sig=signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()


@pytest.fixture
def processes():
    started: list[SchedulerProcess] = []
    yield started
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait(10)


def committed_database(kind: str, tmp_path: Path) -> Database:
    (tmp_path / kind).mkdir(exist_ok=True)
    return Database(kind, tmp_path / kind)


def marks(engine, action: str) -> list[tuple[int, datetime]]:
    """(pid, when) of every run of a test job, in order."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT changes, created_at FROM audit_events WHERE action = :a ORDER BY id"),
                            {"a": action}).all()
    out = []
    for changes, _created in rows:
        data = changes if isinstance(changes, dict) else json.loads(changes)
        out.append((data["pid"], datetime.fromisoformat(data["now"])))
    return out


def job_runs(engine, name: str) -> list[tuple[str, datetime]]:
    with engine.connect() as conn:
        return [(error, started if isinstance(started, datetime) else datetime.fromisoformat(started))
                for error, started in conn.execute(
                    sa.text("SELECT error, started_at FROM job_runs WHERE job_name = :n ORDER BY id"), {"n": name})]


def set_back_an_hour(engine, job_id: str) -> None:
    """Move a stored job's next run 61 minutes into the past (the column and APScheduler's pickled state)."""
    an_hour_ago = datetime.now(UTC) - timedelta(minutes=61)
    with engine.begin() as conn:
        blob = conn.execute(sa.text(f"SELECT job_state FROM {SCHEDULER_TABLE} WHERE id = :id"), {"id": job_id}).scalar()
        state = pickle.loads(blob)  # noqa: S301 (APScheduler's own row in this test's database)
        state["next_run_time"] = an_hour_ago
        conn.execute(sa.text(f"UPDATE {SCHEDULER_TABLE} SET next_run_time = :t, job_state = :s WHERE id = :id"),
                     {"t": an_hour_ago.timestamp(), "s": pickle.dumps(state), "id": job_id})


def wait_for(predicate, timeout: float, what: str, *logs: SchedulerProcess):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    detail = "\n".join(f"--- {p.pid}:\n{p.log()[-3000:]}" for p in logs)
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{detail}")


def test_the_web_app_never_starts_a_scheduler():
    probe = ("import sys, threading, wsgi\n"
             "client = wsgi.app.test_client(); client.get('/login')\n"
             "assert 'crm.scheduler.process' not in sys.modules, 'the scheduler process module was imported'\n"
             "assert 'apscheduler.schedulers.blocking' not in sys.modules\n"
             "assert threading.active_count() == 1, threading.enumerate()\n")
    env = {**os.environ, "DATABASE_URL": "sqlite://", "SECRET_KEY": "probe", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_two_schedulers_on_postgresql_run_each_job_once_and_the_standby_takes_over(tmp_path, processes):
    database = committed_database("postgresql", tmp_path)
    try:
        engine = database.engine
        enabled = {"test-tick", "test-boom"}
        leader = SchedulerProcess(database, tmp_path, "leader", enabled)
        processes.append(leader)
        wait_for(lambda: marks(engine, "test.tick"), 30, "the leader's first tick", leader)
        standby = SchedulerProcess(database, tmp_path, "standby", enabled)
        processes.append(standby)
        wait_for(lambda: "standing by" in standby.log(), 30, "the standby to stand by", standby)
        time.sleep(3)  # both alive: only the leader may run anything

        ticks = marks(engine, "test.tick")
        assert {pid for pid, _ in ticks} == {leader.pid}
        gaps = [(b - a).total_seconds() for (_, a), (_, b) in zip(ticks, ticks[1:], strict=False)]
        assert gaps and min(gaps) > 0.5, f"a tick ran twice: {gaps}"  # every second, never doubled
        booms = job_runs(engine, "test-boom")
        assert booms and all(error.startswith("RuntimeError: boom") for error, _ in booms)
        assert marks(engine, "test.boom") == []  # the failing job's writes were rolled back every time
        assert len(job_runs(engine, "test-tick")) == len(ticks)  # and it did not stop the other job

        leader.stop(signal.SIGKILL)  # dies without letting go: its connection closes, the lock is free
        killed_at = datetime.now(UTC)
        wait_for(lambda: any(pid == standby.pid for pid, _ in marks(engine, "test.tick")), 30,
                 "the standby to take over", standby)
        took_over = min(at for pid, at in marks(engine, "test.tick") if pid == standby.pid)
        assert (took_over - killed_at).total_seconds() < 20  # well within a minute
        assert "scheduler leader" in standby.log()
        assert standby.stop() == 0  # SIGTERM: a clean stop
    finally:
        for process in processes:
            if process.proc.poll() is None:
                process.proc.kill()
                process.proc.wait(10)
        database.drop()


def test_a_leader_whose_lock_connection_dies_stops_instead_of_running_beside_a_new_leader(tmp_path, processes):
    database = committed_database("postgresql", tmp_path)
    try:
        engine = database.engine
        leader = SchedulerProcess(database, tmp_path, "leader", {"test-tick"})
        processes.append(leader)
        wait_for(lambda: marks(engine, "test.tick"), 30, "the leader's first tick", leader)
        with engine.connect() as conn:  # a network cut or a database restart, as the leader sees it
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_locks "
                                 "WHERE locktype = 'advisory' AND granted AND database = "
                                 "(SELECT oid FROM pg_database WHERE datname = current_database())"))
            conn.commit()
        assert leader.proc.wait(20) == 1
        assert "lost the leader lock" in leader.log()
    finally:
        for process in processes:
            if process.proc.poll() is None:
                process.proc.kill()
                process.proc.wait(10)
        database.drop()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_scheduler_down_for_an_hour_catches_up_once_not_sixty_times(tmp_path, processes, kind):
    database = committed_database(kind, tmp_path)
    try:
        engine = database.engine
        first = SchedulerProcess(database, tmp_path, "first", {"test-minutely"})
        processes.append(first)

        def stored_next_run():
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table(SCHEDULER_TABLE):
                    return None
                return conn.execute(sa.text(f"SELECT next_run_time FROM {SCHEDULER_TABLE} WHERE id = 'test-minutely'")
                                    ).scalar()

        next_run = wait_for(stored_next_run, 30, "the job in the store", first)
        assert first.stop() == 0
        assert marks(engine, "test.minutely") == []  # its first minute has not come
        set_back_an_hour(engine, "test-minutely")  # as if the scheduler had been down for an hour

        second = SchedulerProcess(database, tmp_path, "second", {"test-minutely"})
        processes.append(second)
        wait_for(lambda: marks(engine, "test.minutely"), 30, "the catch-up run", second)
        time.sleep(2)
        assert len(marks(engine, "test.minutely")) == 1  # coalesced: once, not 61 times
        assert stored_next_run() > datetime.now(UTC).timestamp()  # and back on its minute
        assert stored_next_run() != next_run
        assert second.stop() == 0
    finally:
        for process in processes:
            if process.proc.poll() is None:
                process.proc.kill()
                process.proc.wait(10)
        database.drop()
