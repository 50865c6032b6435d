//! cityloop's use cases: intake, workflow moves, case queries, authentication, reference data and
//! administration, the background jobs and the demo city. Surfaces (HTTP, CLI) call these functions
//! and never touch the store directly for case work, so every move is checked and recorded the same way.

pub mod access;
pub mod accounts;
pub mod admin;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod classify;
pub mod clock;
pub mod cursor;
pub mod demo;
pub mod dispatch_hint;
pub mod duplicates;
pub mod error;
pub mod evaluation;
pub mod export;
pub mod import;
pub mod intake;
pub mod intake_queue;
pub mod jobs;
pub mod knowledge;
pub mod moves;
pub mod open311;
pub mod overview;
pub mod portal;
pub mod queries;
pub mod reference;
pub mod replies;
pub mod saved_views;
pub mod scope;
pub mod signals;
pub mod testing;
pub mod topics;
pub mod two_factor;
pub mod webhooks;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use cityloop_store::Store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AppError, FieldError, Result};
pub use reference::Reference;
pub use scope::Principal;

/// Settings the use cases need.
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// How long a login token lives.
    pub token_ttl_hours: i64,
    /// Failed logins under one username within `lockout_minutes` that lock it for `lockout_minutes`.
    pub max_failed_logins: i64,
    pub lockout_minutes: i64,
    /// Where attachments are kept (by content hash).
    pub attachments_dir: PathBuf,
    /// Largest attachment accepted.
    pub max_attachment_bytes: usize,
    /// Hours an upload may wait for a case before the background jobs remove it (0: kept).
    pub unattached_upload_hours: u32,
    /// Hours a unit summoned by a whistle has to report in.
    pub whistle_report_hours: u32,
    /// Whether a result sent back (返工, a failed check) restarts the unit's handling limit.
    pub rework_restarts_limit: bool,
    /// A case created without a category is filed under the classifier's suggestion when its probability
    /// reaches this; below it, a person chooses.
    pub auto_category_threshold: f32,
    pub duplicates: duplicates::DuplicateSettings,
    /// Where residents' apps reach this server (Open311 discovery).
    pub public_url: String,
    /// The Open311 jurisdiction this server serves as a whole.
    pub open311_jurisdiction: String,
    /// Parts of the platform served as jurisdictions of their own (a server hosting several cities).
    pub open311_jurisdictions: Vec<open311::JurisdictionSetting>,
    /// How `status` reads in Open311 answers.
    pub open311_status_style: cityloop_domain::open311::StatusStyle,
    pub open311_contact: String,
    /// Where client applications ask for an API key.
    pub open311_key_service: String,
    pub webhooks: webhooks::WebhookSettings,
    /// Periods, weights, time limits and what counts as a valid revisit.
    pub evaluation: cityloop_domain::evaluation::EvaluationRules,
    /// Thresholds and watch words of the risk signals.
    pub signals: cityloop_domain::signals::SignalRules,
    /// When reads of residents' contact data are unusual.
    pub access: cityloop_domain::access::AccessRules,
    /// When a submission without an account is refused as spam.
    pub spam: cityloop_domain::spam::SpamRules,
    /// Posts anyone can make (sign-in, the resident portal, Open311) allowed per client address and minute.
    pub public_posts_per_minute: u32,
    /// The header a trusted reverse proxy puts the client's address in (e.g. `x-forwarded-for`).
    pub client_ip_header: Option<String>,
    /// Months after closing when a case's resident data is removed (0: kept).
    pub retention_months: u32,
}

impl Default for AppSettings {
    fn default() -> Self {
        Self {
            token_ttl_hours: 12,
            max_failed_logins: 5,
            lockout_minutes: 15,
            attachments_dir: PathBuf::from("data/attachments"),
            max_attachment_bytes: 10 * 1024 * 1024,
            unattached_upload_hours: 24,
            whistle_report_hours: 1,
            rework_restarts_limit: false,
            auto_category_threshold: 0.9,
            duplicates: duplicates::DuplicateSettings::default(),
            public_url: "http://127.0.0.1:8080".into(),
            open311_jurisdiction: "cityloop.demo".into(),
            open311_jurisdictions: Vec::new(),
            open311_status_style: cityloop_domain::open311::StatusStyle::default(),
            open311_contact: "12345 热线平台管理员 admin@cityloop.demo".into(),
            open311_key_service: "向平台管理员申请 (ask the platform administrator): admin@cityloop.demo".into(),
            webhooks: webhooks::WebhookSettings::default(),
            evaluation: cityloop_domain::evaluation::EvaluationRules::default(),
            signals: cityloop_domain::signals::SignalRules::default(),
            access: cityloop_domain::access::AccessRules::default(),
            spam: cityloop_domain::spam::SpamRules::default(),
            public_posts_per_minute: 120,
            client_ip_header: None,
            retention_months: 0,
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
    models: Arc<classify::ModelSlot>,
    knowledge: Arc<knowledge::KnowledgeSlot>,
    webhook_sender: Arc<webhooks::SenderSlot>,
    gaps: Arc<cursor::GapWatch>,
}

impl App {
    /// Builds the application, loads the reference data and starts the intake writer (call it
    /// inside a Tokio runtime).
    pub async fn new(store: Store, settings: AppSettings, clock: Arc<dyn Clock>) -> Result<Self> {
        let reference = Reference::load(&store).await?;
        let app = Self {
            settings: Arc::new(settings),
            clock,
            reference: Arc::new(RwLock::new(Arc::new(reference))),
            sessions: Arc::new(auth::SessionCache::default()),
            intake: intake_queue::IntakeQueue::start(store.clone()),
            overview_cache: Arc::default(),
            models: Arc::default(),
            knowledge: Arc::default(),
            webhook_sender: Arc::default(),
            gaps: Arc::default(),
            store,
        };
        app.refresh_smart_data().await;
        Ok(app)
    }

    /// The current reference snapshot (cheap: an `Arc`).
    pub fn reference(&self) -> Arc<Reference> {
        self.reference.read().map(|r| Arc::clone(&r)).unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()))
    }

    /// Reloads units, divisions, grids, categories and the calendar from the store: after an admin
    /// change on this node, and periodically so that other nodes' changes arrive (with them a newer
    /// classifier version and changed knowledge-base articles).
    pub async fn reload_reference(&self) -> Result<()> {
        let fresh = Arc::new(Reference::load(&self.store).await?);
        match self.reference.write() {
            Ok(mut r) => *r = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        self.sessions.clear();
        self.refresh_smart_data().await;
        Ok(())
    }

    /// Loads a newer classifier version and changed knowledge-base articles. A failure is logged, not
    /// returned: the node keeps what it has, and case work goes on without the newer model.
    async fn refresh_smart_data(&self) {
        if let Err(e) = self.refresh_model().await {
            tracing::warn!(error = %e, "classifier not refreshed");
        }
        if let Err(e) = self.refresh_knowledge().await {
            tracing::warn!(error = %e, "knowledge base not refreshed");
        }
    }

    /// The current time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}
