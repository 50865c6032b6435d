//! Bulk import of other systems' records (Open311 bulk CSV, NYC and Baltimore 311, Chinese message-board
//! and 12345 exports in CSV or XLSX) as cases. Each record is read, mapped onto the city's categories,
//! units and divisions, and stored with its source id in batches; a record that cannot be imported goes
//! to the reject file with its line and reason and creates nothing; a record imported before is skipped;
//! an interrupted run goes on from its last stored batch.

pub mod formats;
pub mod mapping;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::FixedOffset;
use cityloop_domain::workflow::{FlowEntry, MoveKind};
use cityloop_domain::{Case, Channel, Location, RequestType, State, Urgency};
use cityloop_store::{Checkpoint, ImportedCase};
use sha2::{Digest, Sha256};

use crate::error::{AppError, Result};
use crate::intake::{MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS};
use crate::App;
use formats::{read_record, Columns, Fields, SourceFormat, SourceRecord};
use mapping::{Area, Mapping};

/// Records stored per transaction.
pub const DEFAULT_BATCH: usize = 5000;
/// The size of a load's first batch (when the batch size is larger).
const FIRST_BATCH: usize = 500;

/// Files of at least this many records, larger than the city's case table, load without its secondary
/// indexes (see `import_file`).
const DEFER_INDEXES_FROM: u64 = 10_000;

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub format: SourceFormat,
    pub path: PathBuf,
    pub mapping: Mapping,
    /// Where rejected records go (appended): `line,reason,record`.
    pub rejects: PathBuf,
    pub batch: usize,
    /// Stop after this many records (a trial run); the run stays open and a later import goes on.
    pub limit: Option<u64>,
}

/// How far an import has come, for a progress bar.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub imported: u64,
    pub skipped: u64,
    pub rejected: u64,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub run: i64,
    pub resumed: bool,
    /// Records read in this invocation (not those a resumed run had done before).
    pub read: u64,
    pub imported: u64,
    pub skipped: u64,
    pub rejected: u64,
    /// Whether the whole file is done (not stopped by `limit`).
    pub finished: bool,
    /// Indexes of the case and flow tables built once at the end of a first load (see `import_file`).
    pub indexes_rebuilt: usize,
    /// Seconds spent building them (part of `seconds`).
    pub index_seconds: f64,
    /// Source values the mapping did not cover, by kind (`category`, `agency`, `area`), with counts.
    pub unmapped: BTreeMap<&'static str, BTreeMap<String, u64>>,
    pub seconds: f64,
}

impl ImportReport {
    pub fn rows_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.read as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// One record as read: its first line, how far into the file it ends, and its fields.
struct Raw {
    line: u64,
    position: u64,
    fields: std::result::Result<Vec<String>, String>,
}

/// The records of a CSV or XLSX file.
struct SourceFile {
    headers: Vec<String>,
    records: Box<dyn Iterator<Item = Raw>>,
    total: u64,
    /// About how many records the file holds (its lines, for a CSV file).
    estimated_records: u64,
}

fn file_error(path: &Path, line: u64, message: impl std::fmt::Display) -> AppError {
    AppError::invalid(format!("{}:{line}", path.display()), message.to_string())
}

fn open_csv(path: &Path) -> Result<SourceFile> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| file_error(path, 0, format!("cannot be read: {e}")))?;
    let total = bytes.len() as u64;
    let estimated_records = bytes.iter().filter(|b| **b == b'\n').count().saturating_sub(1) as u64;
    let start = if bytes.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    if let Err(e) = std::str::from_utf8(&bytes[start..bytes.len().min(start + 64 * 1024)]) {
        if e.error_len().is_some() {
            return Err(file_error(path, 1, "is not UTF-8 (a GBK export? convert it with `iconv -f GBK -t UTF-8`)"));
        }
    }
    // Past the byte-order mark without copying the file.
    let mut text = std::io::Cursor::new(bytes);
    text.set_position(start as u64);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| file_error(path, 1, format!("no header row: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let width = headers.len();
    let records = reader.into_records().map(move |r| match r {
        Ok(rec) => {
            let pos = rec.position().map_or((0, 0), |p| (p.line(), p.byte()));
            let fields = if rec.len() == width {
                // A NUL character has no place in a text (and PostgreSQL cannot store one).
                Ok(rec.iter().map(|v| v.replace('\0', "")).collect())
            } else {
                Err(format!("has {} fields where the header has {width}", rec.len()))
            };
            Raw { line: pos.0, position: pos.1 + start as u64, fields }
        }
        Err(e) => {
            let pos = e.position().map_or((0, 0), |p| (p.line(), p.byte()));
            Raw { line: pos.0, position: pos.1 + start as u64, fields: Err(format!("cannot be read: {e}")) }
        }
    });
    Ok(SourceFile { headers, records: Box::new(records), total, estimated_records })
}

fn cell_text(cell: &calamine::Data) -> String {
    use calamine::{Data, DataType};
    match cell {
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::DateTime(_) | Data::DateTimeIso(_) => {
            cell.as_datetime().map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| cell.to_string())
        }
        other => other.to_string().replace('\0', ""),
    }
}

fn open_xlsx(path: &Path) -> Result<SourceFile> {
    use calamine::Reader;
    let mut book =
        calamine::open_workbook_auto(path).map_err(|e| file_error(path, 0, format!("is not a workbook: {e}")))?;
    let sheet = book.sheet_names().first().cloned().ok_or_else(|| file_error(path, 0, "has no sheet"))?;
    let range = book.worksheet_range(&sheet).map_err(|e| file_error(path, 0, format!("sheet `{sheet}`: {e}")))?;
    let mut rows =
        range.rows().map(|r| r.iter().map(cell_text).collect::<Vec<String>>()).collect::<Vec<_>>().into_iter();
    let headers: Vec<String> = rows
        .next()
        .ok_or_else(|| file_error(path, 1, "has no header row"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let total = rows.len() as u64;
    let records =
        rows.enumerate().map(|(i, fields)| Raw { line: i as u64 + 2, position: i as u64 + 1, fields: Ok(fields) });
    Ok(SourceFile { headers, records: Box::new(records), total, estimated_records: total })
}

fn file_hash(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| file_error(path, 0, format!("cannot be read: {e}")))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut f, &mut hasher).map_err(|e| file_error(path, 0, format!("cannot be read: {e}")))?;
    Ok(hex::encode(hasher.finalize()))
}

/// A rejected record waiting for its batch to be stored.
struct Reject {
    line: u64,
    reason: String,
    record: Vec<String>,
}

impl App {
    /// Imports a file; `progress` is called after every stored batch.
    pub async fn import_file(
        &self,
        options: &ImportOptions,
        mut progress: impl FnMut(Progress),
    ) -> Result<ImportReport> {
        let started = Instant::now();
        let path = &options.path;
        let is_workbook = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx") || e.eq_ignore_ascii_case("xls"));
        let file = if is_workbook { open_xlsx(path)? } else { open_csv(path)? };
        if let Some(missing) = options.format.required_columns().iter().find(|c| !file.headers.iter().any(|h| h == *c))
        {
            return Err(file_error(
                path,
                1,
                format!(
                    "missing column `{missing}` (a {} file needs {})",
                    options.format.source_name(),
                    options.format.required_columns().join(", ")
                ),
            ));
        }
        let source = options.mapping.source.clone().unwrap_or_else(|| options.format.source_name().to_string());
        let reference = self.reference();
        let offset =
            FixedOffset::east_opt(options.mapping.utc_offset_secs.unwrap_or(reference.calendar.utc_offset_secs))
                .ok_or_else(|| AppError::invalid("utc_offset_hours", "is not a valid offset"))?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let run = self.store.open_import_run(&source, &name, &file_hash(path)?, self.now()).await?;
        // A first load of history larger than what the city holds writes its rows without the secondary
        // indexes and builds them once at the end, about twice as fast as keeping seventeen B-trees up to
        // date row by row (SQLite). A killed load's lease lapses, and the next node or command builds them.
        let expected = options.limit.map_or(file.estimated_records, |l| l.min(file.estimated_records));
        let deferred = if expected >= DEFER_INDEXES_FROM && expected > self.store.count_cases().await?.max(0) as u64 {
            self.store.defer_case_indexes(index_lease()).await?
        } else {
            0
        };
        let loaded = self.import_records(options, file, &source, &name, offset, run, deferred > 0, &mut progress).await;
        // Built again whether the load went through or failed.
        let building = Instant::now();
        let rebuilt = if deferred > 0 { self.store.restore_deferred_indexes(None).await? } else { 0 };
        let mut report = loaded?;
        report.indexes_rebuilt = rebuilt;
        report.index_seconds = building.elapsed().as_secs_f64();
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Reads, maps and stores the records of a run, batch by batch: while the store writes one batch,
    /// the next is read and mapped (on SQLite the writing runs on the driver's own thread, so the two
    /// use both cores).
    #[allow(clippy::too_many_arguments)]
    async fn import_records(
        &self,
        options: &ImportOptions,
        file: SourceFile,
        source: &str,
        name: &str,
        offset: FixedOffset,
        run: cityloop_store::ImportRun,
        holds_indexes: bool,
        progress: &mut impl FnMut(Progress),
    ) -> Result<ImportReport> {
        // The reject file is made with the first reject: a clean import leaves no empty file behind.
        let rejects_out: RejectFile = Arc::default();

        let mut report = ImportReport { run: run.id, resumed: run.resumed, ..ImportReport::default() };
        let mut counts = Progress {
            total: file.total,
            imported: run.imported as u64,
            skipped: run.skipped as u64,
            rejected: run.rejected as u64,
            ..Progress::default()
        };
        let mut seen_in_file: HashSet<String> = HashSet::new();
        let mut records = file.records.skip_while(|r| (r.line as i64) < run.next_line).peekable();
        let columns = Columns::new(&file.headers);
        let mut in_flight: Option<StoringBatch> = None;
        let mut lease_renewed = Instant::now();
        // The first batches are small and each is twice the one before, up to the batch size: the
        // writer starts early instead of waiting for a whole batch to be read, which is most of a small
        // file's time.
        let mut batch_size = options.batch.clamp(1, FIRST_BATCH);
        loop {
            let mut batch: Vec<(u64, SourceRecord)> = Vec::new();
            let mut rejected: Vec<Reject> = Vec::new();
            let mut repeated = 0u64;
            let mut last_position = counts.done;
            while batch.len() + rejected.len() + (repeated as usize) < batch_size {
                if options.limit.is_some_and(|l| report.read >= l) {
                    break;
                }
                let Some(raw) = records.next() else { break };
                report.read += 1;
                last_position = raw.position;
                let values = match raw.fields {
                    Ok(v) => v,
                    Err(reason) => {
                        rejected.push(Reject { line: raw.line, reason, record: Vec::new() });
                        continue;
                    }
                };
                let parsed = read_record(options.format, &Fields { columns: &columns, values: &values }, offset)
                    .and_then(|r| check_lengths(r, options.format));
                match parsed {
                    // A record repeated in the file is imported once, like a record imported before.
                    Ok(r) if !seen_in_file.insert(r.external_id.clone()) => repeated += 1,
                    Ok(r) => batch.push((raw.line, r)),
                    Err(reason) => rejected.push(Reject { line: raw.line, reason, record: values }),
                }
            }
            if batch.is_empty() && rejected.is_empty() && repeated == 0 {
                break;
            }
            batch_size = (batch_size * 2).min(options.batch.max(1));
            let next_line = records.peek().map_or(i64::MAX, |r| r.line as i64);
            let ids: Vec<String> = batch.iter().map(|(_, r)| r.external_id.clone()).collect();
            let existing = match self.store.imported_external_ids(source, &ids).await {
                Ok(existing) => existing,
                Err(e) => return Err(settle(in_flight, e.into()).await),
            };
            let before = batch.len();
            batch.retain(|(_, r)| !existing.contains(&r.external_id));
            let skipped = (before - batch.len()) as u64 + repeated;
            let items: Vec<ImportedCase> = batch
                .into_iter()
                .map(|(line, r)| self.imported_case(source, name, line, r, &options.mapping, &mut report.unmapped))
                .collect();
            // Made into rows here, while the last batch is written.
            let items = self.store.prepare_import(items);
            let checkpoint = Checkpoint { next_line, skipped: skipped as i64, rejected: rejected.len() as i64 };
            // Opened before the batch (and its checkpoint) is stored, so that no reject can be lost.
            if !rejected.is_empty() {
                if let Err(e) = open_rejects(&rejects_out, &options.rejects) {
                    return Err(settle(in_flight, e).await);
                }
            }
            // Batches are stored one after the other, each after the one before it is committed.
            if let Some(stored) = in_flight.take() {
                stored.finish(&mut report, &mut counts, progress).await?;
            }
            let (store, out, path) = (self.store.clone(), rejects_out.clone(), options.rejects.clone());
            let (run_id, source_name, imported, rejects) =
                (run.id, source.to_string(), items.len() as u64, rejected.len());
            // Now and then, not with every batch: renewing is a write of its own, and the next batch
            // waits for it.
            let renew_lease = holds_indexes && lease_renewed.elapsed() >= LEASE_RENEWAL;
            if renew_lease {
                lease_renewed = Instant::now();
            }
            let writing = tokio::spawn(async move {
                store.import_batch(run_id, &source_name, items, checkpoint).await?;
                // Its rejects are written as soon as the batch is stored, so that a resumed run neither
                // repeats nor loses them.
                write_rejects(&out, &path, &rejected)?;
                if renew_lease {
                    store.renew_deferred_indexes(index_lease()).await?;
                }
                Ok::<(), AppError>(())
            });
            in_flight = Some(StoringBatch { writing, rejected: rejects as u64, imported, skipped, last_position });
        }
        if let Some(stored) = in_flight.take() {
            stored.finish(&mut report, &mut counts, progress).await?;
        }
        report.finished = records.peek().is_none();
        if report.finished {
            self.store.finish_import_run(run.id, self.now()).await?;
            counts.done = counts.total;
            progress(counts);
        }
        Ok(report)
    }

    fn imported_case(
        &self,
        source: &str,
        file: &str,
        line: u64,
        r: SourceRecord,
        mapping: &Mapping,
        unmapped: &mut BTreeMap<&'static str, BTreeMap<String, u64>>,
    ) -> ImportedCase {
        let reference = self.reference();
        let mut note_unmapped = |kind: &'static str, value: &Option<String>| {
            if let Some(v) = value {
                // Counted without a copy of the value once it is known: most records repeat a few values.
                let counts = unmapped.entry(kind).or_default();
                match counts.get_mut(v.as_str()) {
                    Some(n) => *n += 1,
                    None => {
                        counts.insert(v.clone(), 1);
                    }
                }
            }
        };
        let category = r
            .category
            .as_ref()
            .and_then(|c| mapping.categories.get(c).copied().or_else(|| reference.category_by_code(c).map(|k| k.id)));
        if category.is_none() {
            note_unmapped("category", &r.category);
        }
        let unit = r
            .agency
            .as_ref()
            .and_then(|a| mapping.agencies.get(a).copied().or_else(|| reference.unit_by_code(a).map(|u| u.id)));
        if unit.is_none() {
            note_unmapped("agency", &r.agency);
        }
        let area = r.area.as_ref().and_then(|a| mapping.areas.get(a).copied());
        if area.is_none() {
            note_unmapped("area", &r.area);
        }
        let located = match (r.lat, r.lon) {
            (Some(lat), Some(lon)) => reference.locate(lat, lon).map(|g| (g.id, g.division_id)),
            _ => None,
        };
        let (grid, division) = match (area, located) {
            (Some(Area::Grid(g, d)), _) => (Some(g), d),
            (Some(Area::Division(d)), located) => (located.map(|l| l.0), Some(d)),
            (None, Some((g, d))) => (Some(g), d),
            // No grid covers the place: the division whose polygon does, if any was imported.
            (None, None) => match (r.lat, r.lon) {
                (Some(lat), Some(lon)) => (None, reference.locate_division(lat, lon).map(|d| d.id)),
                _ => (None, None),
            },
        };
        let request_type = mapping.request_type.unwrap_or(RequestType::Complaint);
        let urgency = category.and_then(|c| reference.standard(c)).map_or(Urgency::Normal, |s| s.urgency);
        let mut case = Case::reported(
            r.channel.unwrap_or(Channel::Hotline),
            request_type,
            r.title,
            r.description,
            urgency,
            r.created_at,
        );
        case.category_id = category;
        case.location = match (r.lat, r.lon) {
            (Some(lat), Some(lon)) => Some(Location { lat, lon, address: r.address }),
            _ => None,
        };
        case.grid_id = grid;
        case.division_id = division;
        case.unit_id = unit;
        case.first_unit_id = unit;
        case.deadline = r.due_at.filter(|_| unit.is_some());
        let actor = format!("导入 import · {source}");
        let mut data =
            serde_json::json!({ "import": { "source": source, "id": r.external_id, "file": file, "line": line } });
        // The evaluation counts imported history for the unit that handled it, against its due date.
        if let Some(unit) = unit {
            data["import"]["unit"] = serde_json::json!(unit.0);
            if let Some(due) = r.due_at {
                data["import"]["deadline"] = serde_json::json!(due);
            }
        }
        if !r.extra.is_empty() {
            data["import"]["extra"] = serde_json::Value::Object(r.extra);
        }
        let report = FlowEntry {
            kind: MoveKind::Report,
            from: None,
            to: State::Reported,
            actor_id: None,
            actor_name: actor.clone(),
            role: None,
            unit_id: None,
            at: r.created_at,
            note: None,
            attachments: Vec::new(),
            data,
        };
        let mut flows = vec![report];
        if let (true, Some(closed_at)) = (r.closed, r.closed_at) {
            case.state = State::Closed;
            case.closed_at = Some(closed_at);
            case.updated_at = closed_at;
            case.result = r.result.clone();
            case.version = 2;
            flows.push(FlowEntry {
                kind: MoveKind::Close,
                from: Some(State::Reported),
                to: State::Closed,
                actor_id: None,
                actor_name: actor,
                role: None,
                unit_id: unit,
                at: closed_at,
                note: r.result,
                attachments: Vec::new(),
                data: serde_json::json!({ "import": true }),
            });
        }
        ImportedCase { day: reference.calendar.local_date(r.created_at), case, flows, external_id: r.external_id }
    }
}

/// A batch on its way into the store (its rejects written once it is there), with what to report.
struct StoringBatch {
    writing: tokio::task::JoinHandle<Result<()>>,
    rejected: u64,
    imported: u64,
    skipped: u64,
    last_position: u64,
}

impl StoringBatch {
    /// Waits for the batch to be stored and moves the counts on.
    async fn finish(
        self,
        report: &mut ImportReport,
        counts: &mut Progress,
        progress: &mut impl FnMut(Progress),
    ) -> Result<()> {
        self.writing.await.map_err(|e| AppError::Internal(format!("storing a batch: {e}")))??;
        report.imported += self.imported;
        report.skipped += self.skipped;
        report.rejected += self.rejected;
        counts.imported += self.imported;
        counts.skipped += self.skipped;
        counts.rejected += self.rejected;
        counts.done = self.last_position;
        progress(*counts);
        Ok(())
    }
}

/// Lets a batch still being stored finish (with its rejects) before an error is returned.
async fn settle(in_flight: Option<StoringBatch>, error: AppError) -> AppError {
    if let Some(stored) = in_flight {
        if let Ok(Err(e)) = stored.writing.await {
            tracing::warn!(error = %e, "the batch stored before the error failed too");
        }
    }
    error
}

/// The reject file, opened with the first reject.
type RejectFile = Arc<Mutex<Option<BufWriter<std::fs::File>>>>;

/// How long a load holds the indexes it set aside before another node may build them again; renewed
/// with every stored batch.
fn index_lease() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::minutes(2)
}

/// How often a load renews its two-minute lease on the indexes it set aside.
const LEASE_RENEWAL: std::time::Duration = std::time::Duration::from_secs(20);

fn open_rejects(file: &RejectFile, path: &Path) -> Result<()> {
    let mut slot = file.lock().map_err(|_| AppError::Internal("the reject file".into()))?;
    if slot.is_none() {
        let mut out = BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| file_error(path, 0, format!("cannot be written: {e}")))?,
        );
        if out.get_ref().metadata().map(|m| m.len() == 0).unwrap_or(false) {
            let _ = writeln!(out, "line,reason,record");
        }
        *slot = Some(out);
    }
    Ok(())
}

fn write_rejects(file: &RejectFile, path: &Path, rejected: &[Reject]) -> Result<()> {
    let mut slot = file.lock().map_err(|_| AppError::Internal("the reject file".into()))?;
    let Some(out) = slot.as_mut() else { return Ok(()) };
    for r in rejected {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(&r.record);
        let record = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
        let mut line = csv::Writer::from_writer(Vec::new());
        let _ = line.write_record([r.line.to_string(), r.reason.clone(), record.trim_end().to_string()]);
        let _ = out.write_all(&line.into_inner().unwrap_or_default());
    }
    out.flush().map_err(|e| file_error(path, 0, format!("cannot be written: {e}")))
}

/// Texts longer than a case holds are refused rather than cut.
fn check_lengths(r: SourceRecord, format: SourceFormat) -> std::result::Result<SourceRecord, String> {
    let (title, description) = match format {
        SourceFormat::Messages => ("留言主题", "留言详情"),
        _ => ("title", "description"),
    };
    if r.title.trim().is_empty() {
        return Err(format!("{title}: is empty"));
    }
    if r.title.chars().count() > MAX_TITLE_CHARS {
        return Err(format!("{title}: is longer than {MAX_TITLE_CHARS} characters"));
    }
    if r.description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(format!("{description}: is longer than {MAX_DESCRIPTION_CHARS} characters"));
    }
    Ok(r)
}
