//! cityloop's use cases: intake, workflow moves, case queries, authentication, reference data and
//! administration, the background jobs and the demo city. Surfaces (HTTP, CLI) call these functions
//! and never touch the store directly for case work, so every move is checked and recorded the same way.

pub mod admin;
pub mod attachments;
pub mod auth;
pub mod clock;
pub mod demo;
pub mod error;
pub mod intake;
pub mod intake_queue;
pub mod jobs;
pub mod moves;
pub mod overview;
pub mod portal;
pub mod queries;
pub mod reference;
pub mod saved_views;
pub mod scope;
pub mod testing;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use cityloop_store::Store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AppError, Result};
pub use reference::Reference;
pub use scope::Principal;

/// Settings the use cases need.
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// How long a login token lives.
    pub token_ttl_hours: i64,
    /// Where attachments are kept (by content hash).
    pub attachments_dir: PathBuf,
    /// Largest attachment accepted.
    pub max_attachment_bytes: usize,
    /// Hours a unit summoned by a whistle has to report in.
    pub whistle_report_hours: u32,
}

impl Default for AppSettings {
    fn default() -> Self {
        Self {
            token_ttl_hours: 12,
            attachments_dir: PathBuf::from("data/attachments"),
            max_attachment_bytes: 10 * 1024 * 1024,
            whistle_report_hours: 1,
        }
    }
}

/// The application: the store, the settings, a clock and a snapshot of the reference data.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub settings: Arc<AppSettings>,
    pub clock: Arc<dyn Clock>,
    reference: Arc<RwLock<Arc<Reference>>>,
    sessions: Arc<auth::SessionCache>,
    intake: intake_queue::IntakeQueue,
    overview_cache: Arc<overview::OverviewCache>,
}

impl App {
    /// Builds the application, loads the reference data and starts the intake writer (call it
    /// inside a Tokio runtime).
    pub async fn new(store: Store, settings: AppSettings, clock: Arc<dyn Clock>) -> Result<Self> {
        let reference = Reference::load(&store).await?;
        Ok(Self {
            settings: Arc::new(settings),
            clock,
            reference: Arc::new(RwLock::new(Arc::new(reference))),
            sessions: Arc::new(auth::SessionCache::default()),
            intake: intake_queue::IntakeQueue::start(store.clone()),
            overview_cache: Arc::default(),
            store,
        })
    }

    /// The current reference snapshot (cheap: an `Arc`).
    pub fn reference(&self) -> Arc<Reference> {
        self.reference.read().map(|r| Arc::clone(&r)).unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()))
    }

    /// Reloads units, divisions, grids, categories and the calendar from the store: after an admin
    /// change on this node, and periodically so that other nodes' changes arrive.
    pub async fn reload_reference(&self) -> Result<()> {
        let fresh = Arc::new(Reference::load(&self.store).await?);
        match self.reference.write() {
            Ok(mut r) => *r = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        self.sessions.clear();
        Ok(())
    }

    /// The current time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}
