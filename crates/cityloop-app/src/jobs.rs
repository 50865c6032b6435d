//! Background work: mark cases overdue (with a supervision notice), resume suspensions whose date has
//! come, refresh the reference snapshot, count new flow records for evaluation and risk signals, and
//! scan for signals every `signals.scan_minutes`. Every action is a checked move with a version check, so
//! several nodes running the job at once never act twice on a case.

use cityloop_domain::workflow::{apply, Actor, Move, MoveContext, Relation};
use cityloop_store::{MoveWrite, StoreError};

use crate::error::Result;
use crate::App;

/// Cases handled per batch.
const BATCH: i64 = 500;

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobReport {
    pub marked_overdue: usize,
    pub resumed: usize,
    /// Closed cases whose resident data was removed (retention).
    pub anonymized: u64,
    /// Uploads no case took in time, removed with their files.
    pub unattached_uploads_removed: u64,
}

impl App {
    async fn system_move(&self, case: &cityloop_domain::Case, mv: &Move) -> Result<bool> {
        let reference = self.reference();
        let ctx = MoveContext {
            now: self.now(),
            calendar: &reference.calendar,
            standard: case.category_id.and_then(|c| reference.standard(c)),
            master: None,
            whistle_report_hours: self.settings.whistle_report_hours,
            rework_restarts_limit: self.settings.rework_restarts_limit,
        };
        let Ok(out) = apply(case, mv, &Actor::system(), &Relation::default(), &ctx) else {
            return Ok(false);
        };
        match self.store.commit_move(MoveWrite { expected_version: case.version, outcome: &out }).await {
            Ok(()) => Ok(true),
            // Someone moved the case meanwhile; the next run looks at it again.
            Err(StoreError::StaleVersion) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// One pass of the background jobs.
    pub async fn run_jobs_once(&self) -> Result<JobReport> {
        let mut report = JobReport::default();
        loop {
            let due = self.store.cases_to_mark_overdue(self.now(), BATCH).await?;
            let n = due.len();
            for case in &due {
                if self.system_move(case, &Move::Overdue).await? {
                    report.marked_overdue += 1;
                }
            }
            if (n as i64) < BATCH {
                break;
            }
        }
        for case in self.store.cases_to_resume(self.now(), BATCH).await? {
            if self.system_move(&case, &Move::Resume).await? {
                report.resumed += 1;
            }
        }
        report.anonymized = self.anonymize_expired_cases().await?;
        report.unattached_uploads_removed = self.remove_unattached_uploads().await?;
        // Failed logins older than a day whose lock has ended say nothing any more.
        self.store.forget_login_failures(self.now() - chrono::Duration::days(1)).await?;
        Ok(report)
    }

    /// Runs the jobs every `every` until `shutdown` resolves.
    pub async fn run_jobs(&self, every: std::time::Duration, shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut shutdown = shutdown;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let scan_every = std::time::Duration::from_secs(u64::from(self.settings.signals.scan_minutes) * 60);
        let mut last_scan: Option<std::time::Instant> = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = self.reload_reference().await {
                        tracing::warn!(error = %e, "reloading reference data failed");
                    }
                    // Indexes a killed import left aside are built again once its lease has lapsed.
                    match self.store.restore_deferred_indexes(Some(chrono::Utc::now())).await {
                        Ok(n) if n > 0 => tracing::info!(indexes = n, "indexes an interrupted import set aside were built again"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "building set-aside indexes failed"),
                    }
                    match self.run_jobs_once().await {
                        Ok(r) if r != JobReport::default() => tracing::info!(
                            overdue = r.marked_overdue,
                            resumed = r.resumed,
                            anonymized = r.anonymized,
                            unattached_uploads_removed = r.unattached_uploads_removed,
                            "background jobs"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "background jobs failed"),
                    }
                    // The evaluation rollups and per-place counts, then now and then a look for risk signals.
                    match self.count_evaluation().await {
                        Ok(n) if n > 0 => tracing::debug!(records = n, "evaluation counts"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "counting for evaluation failed"),
                    }
                    match self.watch_access().await {
                        Ok(n) if n > 0 => tracing::warn!(users = n, "unusual reads of residents' contact data"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "watching access failed"),
                    }
                    // Tamper evidence: seal what was written since the last tick.
                    if let Err(e) = self.seal_audit().await {
                        tracing::warn!(error = %e, "sealing flow records failed");
                    }
                    if last_scan.is_none_or(|t| t.elapsed() >= scan_every) {
                        last_scan = Some(std::time::Instant::now());
                        match self.scan_signals().await {
                            Ok(r) if r.raised > 0 => tracing::info!(raised = r.raised, "risk signals"),
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "scanning for risk signals failed"),
                        }
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    }
}
