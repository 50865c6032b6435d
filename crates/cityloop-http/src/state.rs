//! The state every handler shares.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use cityloop_app::App;

/// Request counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub requests_2xx: AtomicU64,
    pub requests_4xx: AtomicU64,
    pub requests_5xx: AtomicU64,
    pub cases_created: AtomicU64,
    pub moves: AtomicU64,
    /// Sum of request durations in microseconds.
    pub duration_us: AtomicU64,
}

impl Metrics {
    pub fn count_status(&self, status: u16, micros: u64) {
        let counter = match status {
            500.. => &self.requests_5xx,
            400.. => &self.requests_4xx,
            _ => &self.requests_2xx,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.duration_us.fetch_add(micros, Ordering::Relaxed);
    }
}

/// Shared state: the application and the server's own counters.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub metrics: Arc<Metrics>,
    pub started: Instant,
    /// Rate limits of the public posts.
    pub limits: Arc<crate::limits::PublicLimits>,
}

impl AppState {
    /// The city's offset from UTC: every answer gives its times in it (`…+08:00`).
    pub fn city_offset(&self) -> chrono::FixedOffset {
        self.app.reference().calendar.offset()
    }

    pub fn new(app: App) -> Self {
        let limits = crate::limits::PublicLimits::new(
            app.settings.public_posts_per_minute,
            app.settings.client_ip_header.clone(),
        );
        Self { app, metrics: Arc::new(Metrics::default()), started: Instant::now(), limits: Arc::new(limits) }
    }
}
