from mlops.jobs import DATABASE_RETRIES, job_task

from . import services


@job_task("audit", "audit", job=("job_id",), fail=services.audit_fail, **DATABASE_RETRIES)
def run_audit(self, job_id: int) -> dict:
    """Run one audit; redelivered after a lost worker, it finishes the job exactly once."""
    job = services.audit_run(job_id=job_id)
    return {"job_id": job.pk, "state": job.state, "verdict": job.verdict}


@job_task("audit", "audit partition", job=("job_id", "row_start"), fail=services.audit_fail, **DATABASE_RETRIES)
def profile_partition(self, job_id: int, row_start: int, row_stop: int) -> dict:
    """Profile one row range of a large file; the chord merges the partitions' profiles."""
    return services.audit_profile_partition(job_id=job_id, row_start=row_start, row_stop=row_stop)


@job_task("audit", "audit", job=("job_id",), fail=services.audit_fail, **DATABASE_RETRIES)
def finish_partitioned_audit(self, profiles: list[dict], job_id: int) -> dict:
    job = services.audit_finish_partitioned(job_id=job_id, profiles=profiles)
    return {"job_id": job.pk, "state": job.state, "verdict": job.verdict}


@job_task("sweep", "sweep of stalled audits")
def requeue_stalled_audits(self, older_than_seconds: int = 1800) -> int:
    return services.audits_requeue_stalled(older_than_seconds=older_than_seconds)


@job_task("sweep", "scheduled audit", job=("schedule_id",), **DATABASE_RETRIES)
def run_scheduled_audit(self, schedule_id: int) -> dict:
    """Beat's tick of an audit schedule; the task id makes a redelivered tick start one audit."""
    job = services.scheduled_audit_run(schedule_id=schedule_id, trigger_key=self.request.id or "")
    return {"schedule_id": schedule_id, "job_id": job.pk if job else None}


@job_task("audit", "relabelling draw", job=("campaign_id",), fail=services.campaign_draw_fail, **DATABASE_RETRIES)
def draw_relabel_campaign(self, campaign_id: int) -> dict:
    """Draw a campaign's sample; a redelivered draw of a drawn campaign changes nothing."""
    campaign = services.campaign_draw(campaign_id=campaign_id)
    return {"campaign_id": campaign.pk, "state": campaign.state, "items": campaign.items_total}


@job_task("sweep", "scheduled relabelling campaign", job=("schedule_id",), **DATABASE_RETRIES)
def run_relabel_schedule(self, schedule_id: int) -> dict:
    """Beat's tick of a relabelling schedule; the task id makes a redelivered tick create one campaign."""
    run = services.scheduled_campaign_run(schedule_id=schedule_id, trigger_key=self.request.id or "")
    campaign = run.campaign_id if run else None
    return {"schedule_id": schedule_id, "campaign_id": campaign, "error": run.error if run else ""}


@job_task("sweep", "sweep of abandoned relabelling assignments")
def release_expired_relabel_assignments(self) -> int:
    return services.assignments_release_expired()


@job_task("sweep", "relabelling estimate", job=("campaign_id",), **DATABASE_RETRIES)
def refresh_relabel_estimate(self, campaign_id: int) -> dict:
    """Store a campaign's estimate if what is settled changed; a redelivery stores nothing twice."""
    stored = services.estimate_refresh(campaign_id=campaign_id)
    return {"campaign_id": campaign_id, "stored": len(stored)}
