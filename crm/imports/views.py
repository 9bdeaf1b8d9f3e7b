"""The import page: upload, check the mapping, watch it run, download the rejects."""

from __future__ import annotations

import uuid
from pathlib import Path

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from crm import access
from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.imports import service
from crm.imports.models import ImportJob, ImportStatus
from crm.labels import label

bp = Blueprint("imports", __name__)

MAX_UPLOAD = 200 * 1024 * 1024


def _job(job_id: int) -> ImportJob:
    job = db.session.get(ImportJob, job_id)
    if job is None or not access.may_see_import(current_user, job):
        raise NotFound(_("No such import."))
    return job


@bp.before_request
@login_required
def managers_only():
    access.require_import(current_user)


@bp.get("/imports")
def index():
    jobs = db.session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(20)).all()
    return render_template("imports/index.html", jobs=jobs, fields=service.FIELDS)


@bp.post("/imports")
def upload():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a CSV file to upload."), "danger")
        return render_template("imports/index.html", jobs=[], fields=service.FIELDS, error=_("Choose a CSV file.")), 422
    if not upload.filename.lower().endswith((".csv", ".txt", ".tsv")):
        return render_template("imports/index.html", jobs=[], fields=service.FIELDS,
                               error=_("Only .csv, .tsv or .txt files can be imported.")), 422
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / f"{uuid.uuid4().hex}.csv"
    upload.save(stored)
    try:
        sniffed = service.sniff(str(stored))
    except ValidationFailed as exc:
        stored.unlink(missing_ok=True)
        return render_template("imports/index.html", jobs=[], fields=service.FIELDS, error=exc.message), 422
    job = ImportJob(user_id=current_user.id, team_id=current_user.team_id, filename=upload.filename[:255],
                    stored_path=str(stored), encoding=sniffed.encoding, delimiter=sniffed.delimiter,
                    headers=sniffed.headers, mapping=sniffed.mapping)
    db.session.add(job)
    db.session.flush()
    return redirect(url_for("imports.show", job_id=job.id))


@bp.get("/imports/<int:job_id>")
def show(job_id: int):
    job = _job(job_id)
    sample = []
    if job.status == ImportStatus.MAPPING:
        sample = [cells for _, cells in zip(range(5), service.iter_rows(job.stored_path, job.encoding, job.delimiter),
                                            strict=False)]
    return render_template("imports/show.html", job=job, fields=service.FIELDS, sample=sample)


@bp.post("/imports/<int:job_id>/start")
def start(job_id: int):
    job = _job(job_id)
    if job.status != ImportStatus.MAPPING:
        return redirect(url_for("imports.show", job_id=job.id))
    mapping = {str(i): request.form.get(f"col-{i}") for i in range(len(job.headers)) if request.form.get(f"col-{i}")}
    try:
        service.check_mapping(mapping)
    except ValidationFailed as exc:
        job.mapping = mapping
        sample = [cells for _, cells in zip(range(5), service.iter_rows(job.stored_path, job.encoding, job.delimiter),
                                            strict=False)]
        return render_template("imports/show.html", job=job, fields=service.FIELDS, sample=sample,
                               error=exc.message), 422
    job.mapping = mapping
    job.status = ImportStatus.RUNNING
    return redirect(url_for("imports.show", job_id=job.id))


@bp.post("/imports/<int:job_id>/step")
def step(job_id: int):
    """Import the next chunk; the page calls this until the job is done."""
    job = _job(job_id)
    if job.status == ImportStatus.RUNNING:
        service.run_step(job, actor=current_user, limit=current_app.config.get("IMPORT_STEP_ROWS", 2000))
    return jsonify({"status": job.status.value, "status_label": label(job.status),
                   "rows_read": job.rows_read, "created": job.rows_created,
                    "existing": job.rows_existing, "rejected": job.rows_rejected})


@bp.get("/imports/<int:job_id>/rejects.csv")
def rejects(job_id: int):
    job = _job(job_id)
    return Response(job.rejects or "row,reason\n", mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="rejects-{job.id}.csv"'})
