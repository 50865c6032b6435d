//! The `cityloop` binary: a thin layer over the library crates that reads settings and flags.

mod bench;
mod import_cmd;
mod logging;
mod settings;
mod text_tools;

// mimalloc rather than glibc's malloc: an import's rows are made on one thread and freed on another
// (see `cityloop_store::PreparedImport`), which glibc pays for in arena locks and consolidation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use cityloop_app::admin::NewUser;
use cityloop_app::clock::ManualClock;
use cityloop_app::demo::{DemoOptions, DemoReport, DEMO_PASSWORD};
use cityloop_app::evaluation::{render_report, ReportFormat};
use cityloop_app::moves::UnitRef;
use cityloop_app::{App, AppError, SystemClock};
use cityloop_store::{DbOptions, Store};
use clap::{Parser, Subcommand};
use logging::init_logging;
use settings::Settings;

#[derive(Parser)]
#[command(name = "cityloop", version, about = "A city's 12345 hotline and grid management on one closed loop")]
struct Cli {
    /// Settings file (default: ./cityloop.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the platform (migrates the database; loads the demo city into an empty one).
    Serve {
        #[arg(long)]
        database: Option<String>,
        #[arg(long)]
        addr: Option<String>,
        /// Do not load the demo city on an empty database.
        #[arg(long)]
        no_demo: bool,
    },
    /// Bring the database schema up to date and exit.
    Migrate {
        #[arg(long)]
        database: Option<String>,
    },
    /// Load the demo city into an empty database.
    Demo {
        #[arg(long)]
        database: Option<String>,
        /// Historical cases to generate.
        #[arg(long, default_value_t = 2000)]
        cases: usize,
        #[arg(long, default_value_t = 12345)]
        seed: u64,
        /// Password of every demo user.
        #[arg(long, default_value = DEMO_PASSWORD)]
        password: String,
        /// Months of history.
        #[arg(long, default_value_t = 6)]
        months: u32,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Import the three-level category CSV (一级分类,二级分类,三级分类).
    ImportCategories {
        file: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
    /// Import unit grids from a GeoJSON FeatureCollection (property `code`: 15 digits).
    ImportGrids {
        file: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
    /// Import areas (districts, streets, community boards…) from a GeoJSON FeatureCollection as
    /// divisions with their polygons; imported cases with coordinates that no grid covers are placed
    /// in the most specific one containing them.
    ImportAreas {
        file: PathBuf,
        /// The level of the divisions created: district, street or community.
        #[arg(long)]
        level: String,
        /// The feature property holding each division's code (e.g. `BoroCD`).
        #[arg(long, default_value = "code")]
        code_property: String,
        /// The feature property holding each division's name (the code when absent).
        #[arg(long)]
        name_property: Option<String>,
        /// The code of the division new ones go under.
        #[arg(long)]
        parent: Option<String>,
        #[arg(long)]
        database: Option<String>,
    },
    /// Import another system's records as cases: open311-csv, nyc311, baltimore311, messages (CSV or
    /// XLSX). Resumable; rejected records go to FILE.rejects.csv; records imported before are skipped.
    Import {
        /// open311-csv, nyc311, baltimore311 or messages.
        format: String,
        file: PathBuf,
        /// A TOML file mapping source categories, agencies and areas onto the city's (docs/import.md).
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Where rejected records go (default: FILE.rejects.csv; appended).
        #[arg(long)]
        rejects: Option<PathBuf>,
        /// Records per transaction.
        #[arg(long)]
        batch: Option<usize>,
        /// Stop after this many records; the same command later goes on from there.
        #[arg(long)]
        limit: Option<u64>,
        #[arg(long)]
        database: Option<String>,
    },
    /// Export cases (without contact data): csv, xlsx, geojson, open311-csv, ngsi-ld.
    Export {
        /// csv, xlsx, geojson, open311-csv or ngsi-ld.
        format: String,
        /// The file to write (default: standard output; xlsx needs a file).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only cases created on or after this day (YYYY-MM-DD, in the city).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Only cases created before this day.
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// Only cases in these states (repeatable).
        #[arg(long)]
        state: Vec<String>,
        #[arg(long)]
        database: Option<String>,
    },
    /// Reports: `report evaluation --period YYYY-MM --format json|csv|xlsx` (docs/evaluation.md),
    /// `report signals [--as-of YYYY-MM-DD]` (docs/signals.md).
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Run the background jobs once (overdue marking, resuming suspensions, removing resident data past
    /// retention and uploads no case took) and exit.
    Jobs {
        #[arg(long)]
        database: Option<String>,
    },
    /// Measure the platform over HTTP on loopback (see docs/performance.md).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// The request classifier: train, evaluate, cross-validate, install (see docs/smart-intake.md).
    Classify {
        #[command(subcommand)]
        command: ClassifyCommand,
    },
    /// Duplicate lookup over a message-board export (留言编号, 留言主题, 留言时间, 留言详情).
    Duplicates {
        #[command(subcommand)]
        command: DuplicatesCommand,
    },
    /// Hot problems (热点问题) of a message-board export: messages about the same problem by text
    /// similarity, ranked by the hotness index (messages, people, votes, time span).
    Hotspots {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 5)]
        top: usize,
        #[arg(long, default_value_t = 0.4)]
        min_similarity: f32,
    },
    /// Reply checks (答复质检) over answered messages (… 答复意见).
    Replies {
        #[command(subcommand)]
        command: RepliesCommand,
    },
    /// The knowledge base.
    Knowledge {
        #[command(subcommand)]
        command: KnowledgeCommand,
    },
    /// Settings helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Residents' contact data at rest: `privacy rotate` brings every case under the current key.
    Privacy {
        #[command(subcommand)]
        command: PrivacyCommand,
    },
    /// Tamper evidence of the flow records: seal, check, export roots (docs/audit.md).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Copy the whole database, consistent at one moment, into a new SQLite file while the platform
    /// runs (docs/operations.md#backup-and-restore).
    Backup {
        /// The backup file to create (never overwritten).
        file: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
    /// Load a backup into a new, empty database of either engine.
    Restore {
        /// A file made by `cityloop backup`.
        file: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Subcommand)]
enum PrivacyCommand {
    /// Re-encrypt contact data under the current key (`privacy.contact_key`): values under an earlier
    /// key (`privacy.previous_contact_keys`) or in clear; with no key set, decrypt everything.
    Rotate {
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Seal every record not sealed yet (the server does this on its own every few seconds).
    Seal {
        #[arg(long)]
        database: Option<String>,
    },
    /// Check every record's link and every seal, and the exported roots; exits with 1 on any finding.
    Verify {
        /// Roots exported earlier by `audit root`, one JSON object per line.
        #[arg(long)]
        roots: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[arg(long)]
        database: Option<String>,
    },
    /// Print a root to keep outside the platform (one JSON line): the last seal made by the end of
    /// the local day `--date` (default: the last seal, after sealing what is there).
    Root {
        /// YYYY-MM-DD.
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        /// A role (repeat for several): admin, operator, lead, dispatcher, handler, inspector, coordinator, leader, citizen, recipient.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Unit code or id.
        #[arg(long)]
        unit: Option<String>,
        /// Grid code (repeat for several).
        #[arg(long = "grid")]
        grids: Vec<String>,
        /// The password (or set CITYLOOP_NEW_PASSWORD).
        #[arg(long, env = "CITYLOOP_NEW_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long)]
        database: Option<String>,
    },
    /// Set a new password for a user who forgot theirs (an administrator locked out, say); their
    /// sign-ins end.
    Password {
        #[arg(long)]
        username: String,
        /// The new password (or set CITYLOOP_NEW_PASSWORD).
        #[arg(long, env = "CITYLOOP_NEW_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long)]
        database: Option<String>,
    },
    /// Close an account (someone left): it signs in no more and its tokens stop working.
    Close {
        #[arg(long)]
        username: String,
        #[arg(long)]
        database: Option<String>,
    },
    /// Open a closed account again.
    Open {
        #[arg(long)]
        username: String,
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// A period's evaluation: the 12345 三率 per unit and the 数字城管 indicators, ranked.
    Evaluation {
        /// YYYY-MM (default: the period running now).
        #[arg(long)]
        period: Option<String>,
        /// json, csv or xlsx.
        #[arg(long, default_value = "json")]
        format: String,
        /// The file to write (default: standard output; xlsx needs a file).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        database: Option<String>,
    },
    /// A risk-signal scan of the whole city, as of the end of a day (default: now), and the newest
    /// signals; with `--as-of` it looks at history, such as imported records.
    Signals {
        /// YYYY-MM-DD: scan as if it were the end of this local day.
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Intake throughput (closed loop) or latency at a fixed rate (open loop, `--rate`).
    Intake {
        #[arg(long)]
        database: Option<String>,
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Requests per second (open loop); without it, as fast as `concurrency` clients can.
        #[arg(long)]
        rate: Option<f64>,
    },
    /// Intake with and without the flow records' links and contact encryption, in alternating rounds,
    /// then sealing and checking (a scratch database: unlinked records are findings for `audit verify`).
    Trust {
        /// A scratch database (required: the run leaves records unlinked and encrypted with a key it
        /// throws away).
        #[arg(long)]
        database: String,
        #[arg(long, default_value_t = 5_000)]
        requests: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Latency of the operator, dispatcher, unit and inspector queues on the stored cases.
    Queries {
        #[arg(long)]
        database: Option<String>,
        #[arg(long, default_value_t = 200)]
        iterations: usize,
    },
    /// Duplicate lookup and classification latency on the stored cases.
    Smart {
        #[arg(long)]
        database: Option<String>,
        #[arg(long, default_value_t = 200)]
        iterations: usize,
    },
    /// The evaluation report, its drill-down and its page over the stored cases.
    Evaluation {
        #[arg(long)]
        database: Option<String>,
        /// YYYY-MM (default: the last whole period).
        #[arg(long)]
        period: Option<String>,
        #[arg(long, default_value_t = 20)]
        iterations: usize,
    },
    /// The density clustering of the risk-signal scan against pandas + scikit-learn's DBSCAN over the
    /// same exported coordinates.
    Dbscan {
        #[arg(long)]
        database: Option<String>,
        /// Days of cases to cluster, ending today (the scan's window is `signals.window_days`).
        #[arg(long, default_value_t = 7)]
        days: u32,
        #[arg(long, default_value_t = 3)]
        iterations: usize,
        /// The Python that runs the peer (with pandas and scikit-learn installed).
        #[arg(long, default_value = "python3")]
        python: String,
        #[arg(long, default_value = "scripts/dbscan_peer.py")]
        peer: PathBuf,
    },
    /// Server time and weight of the web pages on the stored cases.
    Pages {
        #[arg(long)]
        database: Option<String>,
        #[arg(long, default_value_t = 100)]
        iterations: usize,
    },
}

#[derive(Subcommand)]
enum ClassifyCommand {
    /// Train a model: from a data file (`--data FILE.csv --model MODEL`) or from the platform's closed
    /// cases (`--from-db`: stored as a new version that running servers pick up).
    Train {
        /// UTF-8 CSV with the columns id,label,text.
        #[arg(long, required_unless_present = "from_db", conflicts_with = "from_db")]
        data: Option<PathBuf>,
        /// Where to write the model (with `--data`).
        #[arg(long, required_unless_present = "from_db")]
        model: Option<PathBuf>,
        #[arg(long)]
        from_db: bool,
        #[arg(long)]
        database: Option<String>,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Score a model on a data file: accuracy, macro-F1, per-class figures and single-thread speed.
    Eval {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        model: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// k-fold cross-validated scores on a data file.
    CrossValidate {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 5)]
        folds: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Train on `--train` without the ids of `--test`, then score on `--test` (e.g. raw texts).
    Holdout {
        #[arg(long)]
        train: PathBuf,
        #[arg(long)]
        test: PathBuf,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Store a model file as the newest version (running servers pick it up).
    Install {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Subcommand)]
enum DuplicatesCommand {
    /// Each message against the earlier ones of the window, as intake does; prints a sample to check by hand.
    Eval {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 30)]
        window_days: i64,
        #[arg(long, default_value_t = 0.3)]
        min_similarity: f32,
        #[arg(long, default_value_t = 50)]
        sample: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum RepliesCommand {
    /// Scores every reply; prints the distribution and a sample to check by hand.
    Check {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 30)]
        sample: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum KnowledgeCommand {
    /// Import articles from CSV (title,body[,category][,tags]) or Markdown (`# ` heading per article).
    Import {
        file: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the default settings file.
    Default,
}

async fn open_app(settings: &Settings, database: Option<String>) -> Result<App> {
    open_app_with_clock(settings, database, Arc::new(SystemClock)).await
}

async fn open_app_with_clock(
    settings: &Settings,
    database: Option<String>,
    clock: Arc<dyn cityloop_app::clock::Clock>,
) -> Result<App> {
    let store = open_store(settings, database).await?;
    Ok(App::new(store, settings.app_settings(), clock).await?)
}

/// The database, its schema brought up to date.
async fn open_store(settings: &Settings, database: Option<String>) -> Result<Store> {
    let url = database.unwrap_or_else(|| settings.database.url.clone());
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    let options = DbOptions {
        url: url.clone(),
        max_connections: settings.database.max_connections,
        sqlite_synchronous: settings.database.sqlite_synchronous.clone(),
        audit_key: settings.audit.key(),
        contact_cipher: settings.privacy.cipher()?,
        ..DbOptions::new(url.clone())
    };
    let store = Store::open(&options).await.with_context(|| format!("opening {}", cityloop_store::redact_url(&url)))?;
    OPENED_STORES.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(store.clone());
    Ok(store)
}

/// Every store a command opened, closed when it ends: SQLite then folds its log into the database file
/// and removes it, and PostgreSQL sees its connections end instead of break.
static OPENED_STORES: std::sync::Mutex<Vec<Store>> = std::sync::Mutex::new(Vec::new());

async fn close_opened_stores() {
    let stores = std::mem::take(&mut *OPENED_STORES.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    for store in stores {
        store.close().await;
    }
}

fn print_demo(report: &DemoReport, password: &str) {
    println!(
        "demo city 云湖市 loaded: {} divisions, {} grids, {} units, {} categories, {} catalogue rules, {} cases",
        report.divisions, report.grids, report.units, report.categories, report.catalogue_rules, report.cases
    );
    println!("users (password for all: {password}):");
    for u in report.users.iter().filter(|u| !u.username.starts_with("h-") && !u.username.starts_with("c-")) {
        let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
        println!("  {:<12} {:<24} {}", u.username, u.name, roles.join(","));
    }
    let handlers: Vec<_> = report.users.iter().filter(|u| u.username.starts_with("h-")).collect();
    let coordinators: Vec<_> = report.users.iter().filter(|u| u.username.starts_with("c-")).collect();
    println!("  {} unit handlers, e.g.:", handlers.len());
    for u in handlers.iter().take(6) {
        println!("  {:<22} {}", u.username, u.unit.as_deref().unwrap_or_default());
    }
    println!(
        "  {} street coordinators, e.g. {}",
        coordinators.len(),
        coordinators.first().map_or("", |u| u.username.as_str())
    );
}

async fn shutdown_signal(tx: tokio::sync::watch::Sender<bool>) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
    let _ = tx.send(true);
}

fn describe(e: AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

async fn audit(settings: &Settings, command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Seal { database } => {
            let app = open_app(settings, database).await?;
            let started = std::time::Instant::now();
            let sealed = app.seal_everything().await.map_err(describe)?;
            let seconds = started.elapsed().as_secs_f64();
            println!("sealed {sealed} records in {seconds:.2} s ({:.0} records/s)", sealed as f64 / seconds.max(1e-9));
        }
        AuditCommand::Verify { roots, json, database } => {
            let exported = match &roots {
                Some(path) => read_roots(path)?,
                None => Vec::new(),
            };
            let app = open_app(settings, database).await?;
            let report = app.verify_audit(&exported).await.map_err(describe)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "checked {} records of {} cases, {} seals, {} exported roots; {} records not sealed yet",
                    report.records, report.cases, report.seals, report.roots_checked, report.unsealed
                );
                for f in &report.findings {
                    let case = f.case_id.map(|c| format!(" case {c}")).unwrap_or_default();
                    let seal = f.seal_id.map(|s| format!(" seal {s}")).unwrap_or_default();
                    println!("{:?}: record {}{case}{seal}: {}", f.kind, f.flow_id, f.detail);
                }
                println!("{}", if report.is_clean() { "no findings" } else { "FINDINGS" });
            }
            if !report.is_clean() {
                close_opened_stores().await;
                std::process::exit(1);
            }
        }
        AuditCommand::Root { date, database } => {
            let app = open_app(settings, database).await?;
            let at = match date {
                Some(d) => {
                    let day = chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                        .with_context(|| format!("--date: `{d}` is not YYYY-MM-DD"))?;
                    let next = day.succ_opt().context("--date: out of range")?;
                    Some(app.reference().calendar.local_midnight(next) - chrono::Duration::milliseconds(1))
                }
                None => {
                    app.seal_everything().await.map_err(describe)?;
                    None
                }
            };
            match app.audit_root(at).await.map_err(describe)? {
                Some(root) => println!("{}", serde_json::to_string(&root)?),
                None => anyhow::bail!("no seal was made by then"),
            }
        }
    }
    Ok(())
}

/// Exported roots: one JSON object per line (blank lines skipped).
fn read_roots(path: &std::path::Path) -> Result<Vec<cityloop_app::audit::ExportedRoot>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{}, line {}: not a root exported by `audit root`", path.display(), i + 1))
        })
        .collect()
}

async fn classify(settings: &Settings, command: ClassifyCommand) -> Result<()> {
    match command {
        ClassifyCommand::Train { from_db: true, database, seed, .. } => {
            let app = open_app(settings, database).await?;
            let trained = app.train_model_from_cases(seed).await.map_err(describe)?;
            println!("{}", serde_json::to_string_pretty(&trained)?);
        }
        ClassifyCommand::Train { data, model, seed, .. } => {
            let (Some(data), Some(model)) = (data, model) else {
                anyhow::bail!("give --data FILE.csv and --model MODEL, or --from-db");
            };
            let report = text_tools::train_file(&data, &model, seed)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        ClassifyCommand::Eval { data, model, json } => {
            let report = text_tools::eval(&data, &model)?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "{}: n {}, accuracy {:.4}, macro-F1 {:.4}, {:.0} texts/s on one thread",
                    data.display(),
                    report.scores.n,
                    report.scores.accuracy,
                    report.scores.macro_f1,
                    report.docs_per_sec
                );
                for (label, c) in &report.scores.per_class {
                    println!("  {label:<16} P {:.3}  R {:.3}  F1 {:.3}  n {}", c.precision, c.recall, c.f1, c.support);
                }
            }
        }
        ClassifyCommand::CrossValidate { data, folds, seed } => {
            println!("{}", serde_json::to_string_pretty(&text_tools::cross_validate(&data, folds, seed)?)?);
        }
        ClassifyCommand::Holdout { train, test, seed } => {
            println!("{}", serde_json::to_string_pretty(&text_tools::holdout(&train, &test, seed)?)?);
        }
        ClassifyCommand::Install { model, database } => {
            let bytes = std::fs::read(&model).with_context(|| format!("{}: cannot read", model.display()))?;
            let app = open_app(settings, database).await?;
            let name = model.file_name().map_or_else(|| "model".into(), |n| n.to_string_lossy().to_string());
            let version = app
                .install_model(&format!("file:{name}"), &bytes)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
            println!("{}: installed as classifier version {version}", model.display());
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    init_logging(&settings);
    let done = run(cli.command, &settings).await;
    close_opened_stores().await;
    done
}

async fn run(command: Command, settings: &Settings) -> Result<()> {
    match command {
        Command::Serve { database, addr, no_demo } => {
            let addr = addr.unwrap_or_else(|| settings.server.addr.clone());
            let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
            let bound = listener.local_addr()?;
            // Discovery and photo links name the address clients reach, by default the one listened on.
            let mut settings = settings.clone();
            if settings.open311.public_url.trim().is_empty() {
                settings.open311.public_url = if bound.ip().is_unspecified() {
                    // Listening on every interface says nothing of the name clients reach it by.
                    tracing::warn!("open311.public_url is not set: Open311 discovery and photo links name http://127.0.0.1:{}; set it to the address residents' apps reach", bound.port());
                    format!("http://127.0.0.1:{}", bound.port())
                } else {
                    format!("http://{bound}")
                };
            }
            let settings = &settings;
            let app = open_app(settings, database).await?;
            if settings.audit.key.is_empty() {
                tracing::warn!("no audit key is set (CITYLOOP_AUDIT__KEY): flow records are linked with the built-in key, which anyone can use to forge links (docs/audit.md)");
            }
            if settings.demo.load_on_first_start && !no_demo && app.is_empty_city().await? {
                let options =
                    DemoOptions { seed: settings.demo.seed, cases: settings.demo.cases, ..DemoOptions::default() };
                let report = app.load_demo(&options).await.map_err(describe)?;
                print_demo(&report, &options.password);
            }
            println!("cityloop listening on http://{bound}  (pages: http://{bound}/, API: http://{bound}/api/v1, OpenAPI: http://{bound}/api/v1/openapi.json)");
            let (tx, rx) = tokio::sync::watch::channel(false);
            let jobs_app = app.clone();
            let every = Duration::from_secs(settings.workflow.jobs_interval_seconds.max(1));
            let hooks_app = app.clone();
            let hooks_every = Duration::from_secs(settings.webhooks.poll_seconds.max(1));
            let hooks_rx = rx.clone();
            let hooks = tokio::spawn(async move { hooks_app.run_webhooks(hooks_every, hooks_rx).await });
            let jobs = tokio::spawn(async move { jobs_app.run_jobs(every, rx).await });
            let mut done = tx.subscribe();
            tokio::spawn(shutdown_signal(tx));
            cityloop_http::serve(listener, app.clone(), settings.web_settings(), async move {
                let _ = done.changed().await;
            })
            .await?;
            let _ = jobs.await;
            let _ = hooks.await;
        }
        Command::Migrate { database } => {
            let app = open_app(settings, database).await?;
            println!("database schema is up to date ({:?})", app.store.backend());
        }
        Command::Demo { database, cases, seed, password, months } => {
            let app = open_app(settings, database).await?;
            let started = std::time::Instant::now();
            let report = app
                .load_demo(&DemoOptions { seed, cases, password: password.clone(), months })
                .await
                .map_err(describe)?;
            print_demo(&report, &password);
            println!("loaded in {:.1} s", started.elapsed().as_secs_f64());
            let counting = std::time::Instant::now();
            let counted = app.count_everything().await.map_err(describe)?;
            println!("evaluation: {counted} flow records counted in {:.1} s", counting.elapsed().as_secs_f64());
        }
        Command::User { command: UserCommand::Add { username, name, roles, unit, grids, password, database } } => {
            let app = open_app(settings, database).await?;
            let unit = unit.map(|u| u.parse::<i64>().map_or(UnitRef::Code(u), UnitRef::Id));
            let user = app
                .add_user(None, NewUser { username, password, name, roles, unit, grids: Some(grids) })
                .await
                .map_err(describe)?;
            println!("added user {} (id {})", user.username, user.id);
        }
        Command::User { command: UserCommand::Password { username, password, database } } => {
            let app = open_app(settings, database).await?;
            app.reset_password(None, &username, &password).await.map_err(describe)?;
            println!("{username}: new password set; their sign-ins have ended");
        }
        Command::User { command: UserCommand::Close { username, database } } => {
            let app = open_app(settings, database).await?;
            app.set_account_open(None, &username, false).await.map_err(describe)?;
            println!("{username}: account closed");
        }
        Command::User { command: UserCommand::Open { username, database } } => {
            let app = open_app(settings, database).await?;
            app.set_account_open(None, &username, true).await.map_err(describe)?;
            println!("{username}: account open");
        }
        Command::ImportCategories { file, database } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("{}: cannot read as UTF-8 text", file.display()))?;
            let app = open_app(settings, database).await?;
            let report = app.import_categories_csv(&file.display().to_string(), &text).await.map_err(describe)?;
            println!(
                "{}: {} categories created, {} already present (left as they are)",
                file.display(),
                report.created_or_updated,
                report.already_present
            );
        }
        Command::ImportGrids { file, database } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("{}: cannot read as UTF-8 text", file.display()))?;
            let app = open_app(settings, database).await?;
            let report =
                app.import_grids_geojson(&text).await.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            println!("{}: {} grids created or updated", file.display(), report.created_or_updated);
        }
        Command::ImportAreas { file, level, code_property, name_property, parent, database } => {
            let level = cityloop_domain::enums::DivisionLevel::parse(level.trim())
                .filter(|l| *l != cityloop_domain::enums::DivisionLevel::City)
                .ok_or_else(|| anyhow::anyhow!("--level: `{level}` is not one of district, street, community"))?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("{}: cannot read as UTF-8 text", file.display()))?;
            let app = open_app(settings, database).await?;
            let options = cityloop_app::admin::AreaImport { level, code_property, name_property, parent };
            let report = app
                .import_divisions_geojson(None, &text, &options)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            println!("{}: {} divisions created or updated with their areas", file.display(), report.created_or_updated);
        }
        Command::Import { format, file, mapping, rejects, batch, limit, database } => {
            let app = open_app(settings, database).await?;
            let args = import_cmd::ImportArgs { format, file, mapping, rejects, batch, limit };
            import_cmd::run(&app, args).await?;
        }
        Command::Export { format, out, from, to, state, database } => {
            let app = open_app(settings, database).await?;
            import_cmd::export(&app, import_cmd::ExportArgs { format, out, from, to, states: state }).await?;
        }
        Command::Report { command: ReportCommand::Signals { as_of, limit, database } } => {
            let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
            let app = open_app_with_clock(settings, database, clock.clone()).await?;
            if let Some(day) = as_of {
                let day = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                    .map_err(|_| anyhow::anyhow!("--as-of: `{day}` is not a date written YYYY-MM-DD"))?;
                let calendar = &app.reference().calendar;
                clock.set(calendar.local_midnight(day + chrono::Duration::days(1)) - chrono::Duration::seconds(1));
            }
            let (scan, signals) = app.city_signal_scan(limit).await.map_err(describe)?;
            let report = serde_json::json!({"as_of": app.now(), "scan": scan, "signals": signals});
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Report { command: ReportCommand::Evaluation { period, format, out, database } } => {
            let app = open_app(settings, database).await?;
            let format = ReportFormat::parse(&format).map_err(describe)?;
            let label = period.unwrap_or_else(|| app.current_evaluation_period().label());
            let report = app.city_evaluation_report(&label).await.map_err(describe)?;
            let bytes = render_report(&report, format).map_err(describe)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("evaluation {} written to {}", report.period, path.display());
                }
                None if format == ReportFormat::Xlsx => anyhow::bail!("--format xlsx needs --out FILE"),
                None => std::io::Write::write_all(&mut std::io::stdout(), &bytes)?,
            }
        }
        Command::Audit { command } => return audit(settings, command).await,
        Command::Privacy { command: PrivacyCommand::Rotate { database } } => {
            let app = open_app(settings, database).await?;
            let started = std::time::Instant::now();
            let rewritten = app.store.rotate_contact_data().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let key = app
                .store
                .contact_cipher()
                .current_id()
                .map_or("none (clear text)".to_string(), |id| format!("key {id}"));
            println!(
                "rewrote the contact data of {rewritten} cases under {key} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        Command::Backup { file, database } => {
            // The database as it is: never migrated (older nodes may still run on it) nor created.
            let url = database.unwrap_or_else(|| settings.database.url.clone());
            if let Some(path) = url.strip_prefix("sqlite://").map(|p| p.split('?').next().unwrap_or(p)) {
                anyhow::ensure!(std::path::Path::new(path).is_file(), "{path}: no such database file");
            }
            let options = DbOptions { audit_key: settings.audit.key(), ..DbOptions::new(url.clone()) };
            let store = Store::connect(&options)
                .await
                .with_context(|| format!("opening {}", cityloop_store::redact_url(&url)))?;
            let started = std::time::Instant::now();
            let report = store.backup_to(&file).await.with_context(|| format!("backing up to {}", file.display()))?;
            println!(
                "backed up {} rows of {} tables (schema {}) to {} in {:.1} s",
                report.rows(),
                report.tables.len(),
                report.schema_version,
                file.display(),
                started.elapsed().as_secs_f64()
            );
        }
        Command::Restore { file, database } => {
            let store = open_store(settings, database).await?;
            let started = std::time::Instant::now();
            let report =
                store.restore_from(&file).await.with_context(|| format!("restoring from {}", file.display()))?;
            println!(
                "restored {} rows of {} tables (schema {}) from {} in {:.1} s",
                report.rows(),
                report.tables.len(),
                report.schema_version,
                file.display(),
                started.elapsed().as_secs_f64()
            );
            if report.nul_characters_dropped > 0 {
                println!(
                    "{} NUL characters left out of texts (PostgreSQL cannot hold them)",
                    report.nul_characters_dropped
                );
            }
        }
        Command::Jobs { database } => {
            let app = open_app(settings, database).await?;
            let report = app.run_jobs_once().await.map_err(describe)?;
            println!(
                "marked overdue: {}, resumed: {}, anonymized: {}, unattached uploads removed: {}",
                report.marked_overdue, report.resumed, report.anonymized, report.unattached_uploads_removed
            );
        }
        Command::Bench { command: BenchCommand::Intake { database, requests, concurrency, rate } } => {
            let app = open_app(settings, database).await?;
            let report = bench::intake(&app, requests, concurrency, rate).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Bench { command: BenchCommand::Trust { database, requests, concurrency, rounds } } => {
            let app = open_app(settings, Some(database)).await?;
            let report = bench::trust(&app, requests, concurrency, rounds).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Bench { command: BenchCommand::Queries { database, iterations } } => {
            let app = open_app(settings, database).await?;
            let report = bench::queries(&app, iterations).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Bench { command: BenchCommand::Evaluation { database, period, iterations } } => {
            let app = open_app(settings, database).await?;
            let report = bench::evaluation(&app, period, iterations).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Bench { command: BenchCommand::Smart { database, iterations } } => {
            let app = open_app(settings, database).await?;
            let report = bench::smart(&app, iterations).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Bench { command: BenchCommand::Dbscan { database, days, iterations, python, peer } } => {
            let app = open_app(settings, database).await?;
            let report = bench::dbscan(&app, days, iterations, &python, &peer).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Bench { command: BenchCommand::Pages { database, iterations } } => {
            let app = open_app(settings, database).await?;
            let report = bench::pages(&app, iterations).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Classify { command } => classify(settings, command).await?,
        Command::Duplicates {
            command: DuplicatesCommand::Eval { data, window_days, min_similarity, sample, seed },
        } => {
            let run = text_tools::duplicates_over_board(&data, window_days, min_similarity, sample, seed)?;
            println!("{}", serde_json::to_string_pretty(&run)?);
        }
        Command::Hotspots { data, top, min_similarity } => {
            let run = text_tools::hotspots_over_board(&data, top, min_similarity)?;
            println!("{}", serde_json::to_string_pretty(&run)?);
        }
        Command::Replies { command: RepliesCommand::Check { data, sample, seed } } => {
            let run = text_tools::replies_over_board(&data, sample, seed)?;
            println!("{}", serde_json::to_string_pretty(&run)?);
        }
        Command::Knowledge { command: KnowledgeCommand::Import { file, database } } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("{}: cannot read as UTF-8 text", file.display()))?;
            let app = open_app(settings, database).await?;
            let report = app.import_articles(None, &file.display().to_string(), &text).await.map_err(describe)?;
            println!("{}: {} articles imported", file.display(), report.imported);
        }
        Command::Config { command: ConfigCommand::Default } => print!("{}", settings::DEFAULT_TOML),
    }
    Ok(())
}
