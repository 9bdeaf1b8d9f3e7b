"""The job process: `flask --app wsgi crm scheduler`. The web app never starts it.

One APScheduler BlockingScheduler with its jobs kept in the database (fixed ids,
replace_existing), started only once this process holds the leader lock; until
then it waits as a standby. Each scheduled call gets only the job's name and runs
it in a fresh app context (its own session) through run_job.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from crm.extensions import db
from crm.scheduler.leader import lock_file_for, try_leader_lock
from crm.scheduler.runner import JobCatalogue, discover_jobs, run_job
from crm.schema import SCHEDULER_TABLE

log = logging.getLogger(__name__)
# The leadership check runs every few seconds; its "executed successfully" lines are noise.
logging.getLogger("apscheduler.executors.internal").setLevel(logging.WARNING)

LEADERSHIP_CHECK_ID = "touchline-leadership-check"

# The app of this scheduler process, set by serve(); a stored job carries only a
# job name, and this is how the call finds the app to run it in.
_process_app: Flask | None = None


class LeadershipLost(RuntimeError):
    """The leader lock went away (its connection died): stop before another scheduler starts."""


def run_scheduled(name: str) -> None:
    """What the job store calls: run one job in its own app context and session."""
    if _process_app is None:
        raise RuntimeError("run_scheduled is only called inside the scheduler process")
    with _process_app.app_context():
        run = run_job(name)
    if run.error:
        log.warning("job %s failed; it runs again at its next time", name)


def same_trigger(a, b) -> bool:
    return type(a) is type(b) and str(a) == str(b) and str(getattr(a, "timezone", "")) == str(getattr(b, "timezone", ""))


def build_scheduler(app: Flask, catalogue: JobCatalogue, *, scheduler_class=BlockingScheduler):
    """A scheduler holding every enabled job, keeping a stored next run time whose schedule is unchanged.

    Replacing a job would otherwise reset its next run to the future, and a scheduler
    that was down would never catch up; with the stored time kept, coalesce folds all
    the missed runs into one, which still starts if within misfire_grace_time.
    """
    config = app.config
    with app.app_context():
        engine = db.engine
    store = SQLAlchemyJobStore(engine=engine, tablename=SCHEDULER_TABLE)
    scheduler = scheduler_class(
        jobstores={"default": store, "internal": MemoryJobStore()},
        # The leadership check has its own thread, never queued behind a long job.
        executors={"default": ThreadPoolExecutor(max(1, config["SCHEDULER_WORKERS"])),
                   "internal": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": config["SCHEDULER_MISFIRE_GRACE_SECONDS"] or None},
        timezone=UTC,
    )
    store.start(scheduler, "default")  # creates APScheduler's table if missing, so we can read it
    disabled = {name.strip() for name in config["SCHEDULER_DISABLED_JOBS"].split(",") if name.strip()}
    wanted = {name: job for name, job in catalogue.jobs.items() if name not in disabled}
    for stored in store.get_all_jobs():
        if stored.id not in wanted:
            log.info("removing job %s from the store: no such job, or disabled", stored.id)
            store.remove_job(stored.id)
    for name, job in sorted(wanted.items()):
        trigger = job.trigger()
        stored = store.lookup_job(name)
        keep = {}
        if stored is not None and stored.next_run_time is not None and same_trigger(stored.trigger, trigger):
            keep["next_run_time"] = stored.next_run_time
        scheduler.add_job(run_scheduled, trigger=trigger, args=[name], id=name, name=name,
                          replace_existing=True, **keep)
    return scheduler


def serve(app: Flask, *, stop: threading.Event | None = None) -> None:
    """Wait to be the leader, then run the scheduler until stopped (SIGTERM, SIGINT) or the lock is lost."""
    global _process_app
    stop = stop or threading.Event()
    holder: dict = {}

    def on_signal(signum, frame):
        log.info("signal %s: stopping the scheduler", signum)
        stop.set()
        scheduler = holder.get("scheduler")
        if scheduler is not None and scheduler.running:
            # From a thread, not the handler: the main loop may hold the scheduler's locks.
            # Running jobs finish and commit before the process exits.
            threading.Thread(target=scheduler.shutdown, kwargs={"wait": False}, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    with app.app_context():
        engine = db.engine
        catalogue = discover_jobs()
    for module, problem in catalogue.broken.items():
        log.error("job module %s is not scheduled: %s", module, problem)
    lock = _wait_for_leadership(engine, app, stop)
    if lock is None:
        return
    try:
        _process_app = app
        scheduler = build_scheduler(app, catalogue)
        holder["scheduler"] = scheduler
        lost = threading.Event()

        def check_leadership():
            if not lock.still_held():
                log.critical("lost the leader lock; stopping so that a standby can take over")
                lost.set()
                scheduler.shutdown(wait=False)

        scheduler.add_job(check_leadership, "interval", seconds=max(1, app.config["SCHEDULER_LOCK_RETRY_SECONDS"]),
                          id=LEADERSHIP_CHECK_ID, name="leadership check", jobstore="internal", executor="internal",
                          misfire_grace_time=None)
        log.info("scheduler leader (%r): %s", lock, ", ".join(sorted(scheduler_job_ids(scheduler))))
        if not stop.is_set():
            scheduler.start()
        if lost.is_set():
            raise LeadershipLost("the scheduler's leader lock was lost")
    finally:
        _process_app = None
        lock.release()


def scheduler_job_ids(scheduler) -> list[str]:
    return [job.id for job in scheduler.get_jobs() if job.id != LEADERSHIP_CHECK_ID]


def _wait_for_leadership(engine, app: Flask, stop: threading.Event):
    retry = max(1, app.config["SCHEDULER_LOCK_RETRY_SECONDS"])
    lock_file = lock_file_for(engine, app.config.get("SCHEDULER_LOCK_FILE"))
    announced = False
    while not stop.is_set():
        lock = try_leader_lock(engine, lock_file)
        if lock is not None:
            return lock
        if not announced:
            log.info("another scheduler is the leader; standing by, retrying every %d s", retry)
            announced = True
        stop.wait(retry)
    return None
