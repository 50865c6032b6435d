//! Exports of case lists for other systems: CSV and XLSX for people, GeoJSON for maps, Open311 bulk CSV
//! (which `cityloop import open311-csv` reads back), and NGSI-LD `Open311ServiceRequest` entities of the
//! FIWARE Smart Data Models (dataModel.IssueTracking) for a city's digital twin or context broker.
//! Exports carry no contact data: who may see it is the business of the surfaces that show one case.

use std::io::{Read, Seek, Write};

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use cityloop_domain::open311::status;
use cityloop_domain::Case;
use cityloop_store::{CaseFilter, CaseSort};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use cityloop_domain::access::AccessEventKind;
use cityloop_domain::masking::mask_numbers_in_text;

use crate::error::{AppError, Result};
use crate::queries::CaseQuery;
use crate::reference::Reference;
use crate::{App, Principal};

/// Cases read per query while exporting.
const EXPORT_BATCH: i64 = 5000;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
    GeoJson,
    Open311Csv,
    NgsiLd,
}

impl ExportFormat {
    pub const ALL: [Self; 5] = [Self::Csv, Self::Xlsx, Self::GeoJson, Self::Open311Csv, Self::NgsiLd];
    pub const NAMES: &'static [&'static str] =
        &[Self::Csv.name(), Self::Xlsx.name(), Self::GeoJson.name(), Self::Open311Csv.name(), Self::NgsiLd.name()];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The name the API and the command line use.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
            Self::GeoJson => "geojson",
            Self::Open311Csv => "open311-csv",
            Self::NgsiLd => "ngsi-ld",
        }
    }

    /// The media type of the file.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv | Self::Open311Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::GeoJson => "application/geo+json",
            Self::NgsiLd => "application/ld+json",
        }
    }

    /// The usual file name suffix.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv | Self::Open311Csv => "csv",
            Self::Xlsx => "xlsx",
            Self::GeoJson => "geojson",
            Self::NgsiLd => "jsonld",
        }
    }
}

/// The columns of the CSV and XLSX exports: wire name and Chinese header.
const COLUMNS: &[(&str, &str)] = &[
    ("number", "工单编号"),
    ("state", "状态"),
    ("channel", "来源渠道"),
    ("request_type", "诉求类型"),
    ("title", "标题"),
    ("description", "诉求内容"),
    ("category_code", "分类编码"),
    ("category", "问题分类"),
    ("unit_code", "承办单位编码"),
    ("unit", "承办单位"),
    ("division", "所属区域"),
    ("grid", "网格"),
    ("lat", "纬度"),
    ("lon", "经度"),
    ("address", "地址"),
    ("urgency", "紧急程度"),
    ("created_at", "受理时间"),
    ("deadline", "处置时限"),
    ("closed_at", "结案时间"),
    ("result", "办理结果"),
];

/// The columns a spreadsheet gets as numbers.
const NUMERIC_COLUMNS: &[&str] = &["lat", "lon"];

/// The GeoReport bulk columns.
const OPEN311_COLUMNS: &[&str] = &[
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
    "closed_date",
    "status_description",
    "source",
    "service_subtype",
];

/// How the coded columns are written: as the wire names programs read, or as the Chinese labels
/// people read under the Chinese headers of a spreadsheet.
#[derive(Clone, Copy)]
enum Vocabulary {
    Wire,
    Labels,
}

struct Row<'a> {
    case: &'a Case,
    reference: &'a Reference,
    offset: FixedOffset,
}

impl Row<'_> {
    fn time(&self, t: Option<DateTime<Utc>>) -> String {
        t.map(|t| t.with_timezone(&self.offset).to_rfc3339_opts(SecondsFormat::Secs, false)).unwrap_or_default()
    }

    fn category(&self) -> Option<&cityloop_store::CategoryRow> {
        self.case.category_id.and_then(|c| self.reference.category(c))
    }

    fn unit(&self) -> Option<&cityloop_store::UnitRow> {
        self.case.unit_id.and_then(|u| self.reference.unit(u))
    }

    fn grid_code(&self) -> String {
        self.case.grid_id.and_then(|g| self.reference.grid(g)).map(|g| g.code.clone()).unwrap_or_default()
    }

    fn division(&self) -> String {
        self.case.division_id.and_then(|d| self.reference.division(d)).map(|d| d.name.clone()).unwrap_or_default()
    }

    fn coordinate(&self, f: fn(&cityloop_domain::Location) -> f64) -> String {
        self.case.location.as_ref().map(|l| f(l).to_string()).unwrap_or_default()
    }

    fn address(&self) -> String {
        self.case.location.as_ref().and_then(|l| l.address.clone()).unwrap_or_default()
    }

    /// The columns' values, the coded ones (state, channel, request type, urgency) as their wire
    /// names, for programs (CSV, GeoJSON).
    fn values(&self) -> Vec<String> {
        self.values_with(Vocabulary::Wire)
    }

    fn values_with(&self, words: Vocabulary) -> Vec<String> {
        let c = self.case;
        let coded = |wire: &'static str, label: &'static str| match words {
            Vocabulary::Wire => wire.to_string(),
            Vocabulary::Labels => label.to_string(),
        };
        vec![
            c.number.clone(),
            coded(c.state.as_str(), c.state.label_zh()),
            coded(c.channel.as_str(), c.channel.label_zh()),
            coded(c.request_type.as_str(), c.request_type.label_zh()),
            c.title.clone(),
            c.description.clone(),
            self.category().map(|k| k.code.clone()).unwrap_or_default(),
            self.category().map(|k| k.name.clone()).unwrap_or_default(),
            self.unit().map(|u| u.code.clone()).unwrap_or_default(),
            self.unit().map(|u| u.name.clone()).unwrap_or_default(),
            self.division(),
            self.grid_code(),
            self.coordinate(|l| l.lat),
            self.coordinate(|l| l.lon),
            self.address(),
            coded(c.urgency.as_str(), c.urgency.label_zh()),
            self.time(Some(c.created_at)),
            self.time(c.deadline),
            self.time(c.closed_at),
            c.result.clone().unwrap_or_default(),
        ]
    }

    fn open311_values(&self) -> Vec<String> {
        let c = self.case;
        let open = !c.state.is_terminal();
        vec![
            c.number.clone(),
            status(c.state).to_string(),
            c.result.clone().unwrap_or_default(),
            self.category().map(|k| k.name.clone()).unwrap_or_default(),
            self.category().map(|k| k.code.clone()).unwrap_or_default(),
            c.description.clone(),
            self.unit().map(|u| u.name.clone()).unwrap_or_default(),
            String::new(),
            self.time(Some(c.created_at)),
            self.time(Some(c.updated_at)),
            if open { self.time(c.deadline) } else { String::new() },
            self.address(),
            self.grid_code(),
            String::new(),
            self.coordinate(|l| l.lat),
            self.coordinate(|l| l.lon),
            String::new(),
            self.time(c.closed_at),
            c.state.label_zh().to_string(),
            c.channel.as_str().to_string(),
            c.request_type.as_str().to_string(),
        ]
    }

    fn geojson(&self) -> Value {
        let geometry = self
            .case
            .location
            .as_ref()
            .map_or(Value::Null, |l| json!({ "type": "Point", "coordinates": [l.lon, l.lat] }));
        let properties: serde_json::Map<String, Value> =
            COLUMNS.iter().map(|(k, _)| k.to_string()).zip(self.values().into_iter().map(Value::from)).collect();
        json!({ "type": "Feature", "id": self.case.number, "geometry": geometry, "properties": properties })
    }

    fn ngsi_ld(&self) -> Value {
        let c = self.case;
        let text = |v: String| json!({ "type": "Property", "value": v });
        let time = |t: DateTime<Utc>| json!({ "type": "Property", "value": { "@type": "DateTime", "@value": t.to_rfc3339_opts(SecondsFormat::Secs, true) } });
        let mut e = json!({
            "id": format!("urn:ngsi-ld:Open311ServiceRequest:{}", c.number),
            "type": "Open311ServiceRequest",
            "service_request_id": text(c.number.clone()),
            "status": text(status(c.state).to_string()),
            "description": text(c.description.clone()),
            "requested_datetime": time(c.created_at),
            "updated_datetime": time(c.updated_at),
            "@context": [
                "https://raw.githubusercontent.com/smart-data-models/dataModel.IssueTracking/master/context.jsonld",
                "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
            ],
        });
        if let Some(k) = self.category() {
            e["service_code"] = text(k.code.clone());
            e["service_name"] = text(k.name.clone());
        }
        if let Some(u) = self.unit() {
            e["agency_responsible"] = text(u.name.clone());
        }
        if let Some(r) = &c.result {
            e["status_notes"] = text(r.clone());
        }
        if let (Some(d), false) = (c.deadline, c.state.is_terminal()) {
            e["expected_datetime"] = time(d);
        }
        if let Some(l) = &c.location {
            e["location"] =
                json!({ "type": "GeoProperty", "value": { "type": "Point", "coordinates": [l.lon, l.lat] } });
            if let Some(a) = &l.address {
                e["address_string"] = text(a.clone());
            }
        }
        e
    }
}

/// CSV for a spreadsheet: a cell a resident could have begun with `=`, `+`, `-` or `@` (a formula to
/// Excel and WPS: `=HYPERLINK(…)`) is written with a leading `'`, which shows it as text.
pub(crate) fn csv_bytes(rows: impl IntoIterator<Item = Vec<String>>) -> Result<Vec<u8>> {
    csv_bytes_as_is(rows.into_iter().map(|row| row.into_iter().map(spreadsheet_text).collect()))
}

/// CSV with every cell as it is, for a file read back by a program (`open311-csv`).
pub(crate) fn csv_bytes_as_is(rows: impl IntoIterator<Item = Vec<String>>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r).map_err(io)?;
    }
    w.into_inner().map_err(io)
}

/// A cell that a spreadsheet would not take for a formula (a number such as -76.6 stays a number).
fn spreadsheet_text(cell: String) -> String {
    let formula_like = cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err();
    if formula_like {
        format!("'{cell}")
    } else {
        cell
    }
}

pub(crate) fn io(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("export: {e}"))
}

/// Splits a case-list query string into the export format (`format=`) and the list's own filters;
/// a data recipient's own filters give way to those of its token.
pub fn split_export_query(who: &Principal, raw: &str) -> Result<(ExportFormat, String)> {
    let mut format = None;
    let mut rest: Vec<(String, String)> = Vec::new();
    let held_to = who.export_filter.as_deref().map(form_urlencoded_pairs).unwrap_or_default();
    for (k, v) in form_urlencoded_pairs(raw) {
        if k == "format" {
            format = Some(v);
        } else if who.exports_only() && CLOSED_TO_RECIPIENTS.contains(&k.as_str()) {
            return Err(AppError::invalid(k, "is not open to a data recipient"));
        } else if !held_to.iter().any(|(fixed, _)| *fixed == k) {
            rest.push((k, v));
        }
    }
    rest.extend(held_to);
    let name = format.ok_or_else(|| {
        AppError::invalid("format", format!("is required: one of {}", ExportFormat::NAMES.join(", ")))
    })?;
    let format = ExportFormat::parse(name.trim()).ok_or_else(|| {
        AppError::invalid("format", format!("`{name}` is not one of {}", ExportFormat::NAMES.join(", ")))
    })?;
    Ok((format, serde_urlencoded::to_string(&rest).unwrap_or_default()))
}

/// Filters a data recipient may not use: they would tell who reported what (a phone number, or one
/// typed into a text).
const CLOSED_TO_RECIPIENTS: &[&str] = &["phone", "q"];

fn form_urlencoded_pairs(raw: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw).unwrap_or_default()
}

/// At most this many cases go out in one export from the API or the pages; larger lists are for
/// `cityloop export`, which writes to a file.
pub const MAX_ONLINE_EXPORT: i64 = 100_000;

/// The finished XLSX archive goes out in pieces of this size.
const XLSX_CHUNK: usize = 256 * 1024;

/// An export on its way: how many cases it holds, and its bytes batch by batch, so that a server
/// holds one batch of an export in memory, not the whole file (XLSX, a zip finished at the end, has
/// its rows kept in a temporary file until then).
pub struct CaseExport {
    pub count: u64,
    pub chunks: mpsc::Receiver<std::io::Result<Vec<u8>>>,
}

impl CaseExport {
    /// The bytes as a stream, for an HTTP answer's body.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send {
        futures_util::stream::unfold(self.chunks, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) })
    }
}

/// Whether the free texts of the cases (title, description, address) go out as written or with the
/// phone and ID numbers and e-mail addresses typed into them masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Texts {
    AsWritten,
    Masked,
}

/// Where an export's bytes go.
enum Target<'a> {
    /// A file or other writer (`cityloop export`).
    Writer(&'a mut (dyn Write + Send)),
    /// A channel an HTTP answer streams from.
    Channel(&'a mpsc::Sender<std::io::Result<Vec<u8>>>),
}

impl Target<'_> {
    /// Hands on what was written so far.
    async fn pass_on(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        match self {
            Target::Writer(w) => {
                w.write_all(buf).map_err(io)?;
                buf.clear();
            }
            Target::Channel(tx) => tx
                .send(Ok(std::mem::take(buf)))
                .await
                .map_err(|_| AppError::Internal("export: the download was abandoned".into()))?,
        }
        Ok(())
    }
}

impl App {
    /// The name an export is downloaded under, stamped with the city's local time as the pages show it.
    pub fn export_file_name(&self, format: ExportFormat) -> String {
        let local = self.now().with_timezone(&self.reference().calendar.offset());
        format!("cases-{}.{}", local.format("%Y%m%d-%H%M"), format.extension())
    }

    /// Checks the filter of a data recipient's token: case-list filters that `recipient` may use.
    pub(crate) fn check_export_filter(&self, recipient: &Principal, filter: &str) -> Result<()> {
        let bad = |why: String| AppError::invalid("export_filter", why);
        let known = serde_json::to_value(CaseQuery::default()).unwrap_or_default();
        let pairs = form_urlencoded_pairs(filter);
        for (key, _) in &pairs {
            if matches!(key.as_str(), "page" | "page_size" | "sort") || known.get(key).is_none() {
                return Err(bad(format!("`{key}` is not a filter of the case list")));
            }
            if CLOSED_TO_RECIPIENTS.contains(&key.as_str()) {
                return Err(bad(format!("`{key}` is not open to a data recipient")));
            }
        }
        if pairs.iter().all(|(_, value)| value.trim().is_empty()) {
            return Err(bad("names no filter: a recipient's exports are held to at least one".into()));
        }
        let q: CaseQuery = serde_urlencoded::from_str(filter).map_err(|e| bad(e.to_string()))?;
        self.case_filter(recipient, &q).map_err(|e| bad(e.to_string()))?;
        Ok(())
    }

    /// The caller's case list (the same filters and scope as the list) as a file in `format`, without
    /// residents' contact data: the cases that exist when the export starts. A list longer than
    /// [`MAX_ONLINE_EXPORT`] is refused before anything is written.
    pub async fn export_case_list(&self, who: &Principal, q: &CaseQuery, format: ExportFormat) -> Result<CaseExport> {
        let mut filter = self.case_filter(who, q)?;
        // Cases created while the file is written are left for the next export.
        filter.id_up_to = Some(self.store.last_case_id().await?);
        let mut counting = filter.clone();
        counting.count_total = true;
        counting.count_limit = Some(MAX_ONLINE_EXPORT);
        counting.limit = 1;
        counting.offset = 0;
        let count = self.store.list_cases(&counting).await?.total;
        if count > MAX_ONLINE_EXPORT {
            return Err(AppError::invalid(
                "query",
                format!(
                    "selects more than {MAX_ONLINE_EXPORT} cases: narrow the filters, or export with `cityloop export`"
                ),
            ));
        }
        // Counted by the unusual-access watch (a bulk export).
        let detail = format!("{} {}", format.name(), serde_urlencoded::to_string(q).unwrap_or_default());
        let detail = mask_numbers_in_text(&detail);
        self.record_access_event(&who.user, AccessEventKind::Export, None, detail.trim(), count).await?;
        // Numbers typed into the texts are contact data: as written only to those who see contacts in
        // clear (a recipient outside the platform, a unit or a leader gets them masked).
        let texts = if who.works_with_contacts() && !who.exports_only() { Texts::AsWritten } else { Texts::Masked };
        Ok(CaseExport { count: count.max(0) as u64, chunks: self.export_stream(filter, format, texts, EXPORT_BATCH) })
    }

    /// Writes the export on a task of its own, `batch` cases at a time, into a channel of two batches.
    fn export_stream(
        &self,
        filter: CaseFilter,
        format: ExportFormat,
        texts: Texts,
        batch: i64,
    ) -> mpsc::Receiver<std::io::Result<Vec<u8>>> {
        let (tx, rx) = mpsc::channel(2);
        let app = self.clone();
        tokio::spawn(async move {
            if let Err(e) = app.write_export(filter, format, texts, batch, Target::Channel(&tx)).await {
                tracing::warn!(error = %e, "export stopped");
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
            }
        });
        rx
    }

    /// Writes every case the filter selects (its sort and paging are replaced: cases go out by id) to
    /// `out` in `format`; returns how many.
    pub async fn export_cases(
        &self,
        filter: CaseFilter,
        format: ExportFormat,
        out: &mut (dyn Write + Send),
    ) -> Result<u64> {
        self.write_export(filter, format, Texts::AsWritten, EXPORT_BATCH, Target::Writer(out)).await
    }

    async fn write_export(
        &self,
        filter: CaseFilter,
        format: ExportFormat,
        texts: Texts,
        batch: i64,
        mut target: Target<'_>,
    ) -> Result<u64> {
        let reference = self.reference();
        let offset = reference.calendar.offset();
        let mut f = filter;
        f.sort = CaseSort::IdAsc;
        f.count_total = false;
        f.limit = batch;
        f.offset = 0;
        // What is written goes on to the target after each batch.
        let mut out: Vec<u8> = Vec::new();
        let mut book = (format == ExportFormat::Xlsx).then(rust_xlsxwriter::Workbook::new);
        match format {
            ExportFormat::Csv => {
                out.write_all(b"\xEF\xBB\xBF").map_err(io)?; // Excel reads UTF-8 CSV by its byte-order mark.
                out.write_all(&csv_bytes([COLUMNS.iter().map(|c| c.0.to_string()).collect()])?).map_err(io)?;
            }
            ExportFormat::Open311Csv => {
                out.write_all(&csv_bytes([OPEN311_COLUMNS.iter().map(|c| c.to_string()).collect()])?).map_err(io)?
            }
            ExportFormat::GeoJson => out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[").map_err(io)?,
            ExportFormat::NgsiLd => out.write_all(b"[").map_err(io)?,
            ExportFormat::Xlsx => {
                if let Some(b) = book.as_mut() {
                    // Rows go to a temporary file as they are written, so that a large list does not
                    // sit in memory until the archive is finished.
                    let sheet = b.add_worksheet_with_constant_memory();
                    sheet.set_name("工单").map_err(io)?;
                    for (i, (_, header)) in COLUMNS.iter().enumerate() {
                        sheet.write_string(0, i as u16, *header).map_err(io)?;
                    }
                }
            }
        }
        let mut count: u64 = 0;
        loop {
            let mut items = self.store.list_cases(&f).await?.items;
            items.truncate(batch as usize);
            let Some(last) = items.last() else { break };
            f.id_after = Some(last.id);
            if texts == Texts::Masked {
                for case in &mut items {
                    case.mask_resident_texts();
                    if let Some(address) = case.location.as_mut().and_then(|l| l.address.as_mut()) {
                        *address = mask_numbers_in_text(address);
                    }
                }
            }
            let (mut csv_rows, mut open311_rows): (Vec<Vec<String>>, Vec<Vec<String>>) = (Vec::new(), Vec::new());
            for case in &items {
                let row = Row { case, reference: &reference, offset };
                match format {
                    ExportFormat::Csv => csv_rows.push(row.values()),
                    ExportFormat::Open311Csv => open311_rows.push(row.open311_values()),
                    ExportFormat::GeoJson | ExportFormat::NgsiLd => {
                        if count > 0 {
                            out.write_all(b",").map_err(io)?;
                        }
                        let v = if format == ExportFormat::GeoJson { row.geojson() } else { row.ngsi_ld() };
                        serde_json::to_writer(&mut out, &v).map_err(io)?;
                    }
                    ExportFormat::Xlsx => {
                        if let Some(sheet) = book.as_mut().and_then(|b| b.worksheet_from_index(0).ok()) {
                            for (i, v) in row.values_with(Vocabulary::Labels).iter().enumerate() {
                                let (at_row, at_column) = (count as u32 + 1, i as u16);
                                // Coordinates go in as numbers, so that a spreadsheet can sort and map them.
                                match v.parse::<f64>() {
                                    Ok(n) if NUMERIC_COLUMNS.contains(&COLUMNS[i].0) => {
                                        sheet.write_number(at_row, at_column, n).map_err(io)?
                                    }
                                    _ => sheet.write_string(at_row, at_column, v).map_err(io)?,
                                };
                            }
                        }
                    }
                }
                count += 1;
            }
            if !csv_rows.is_empty() {
                out.write_all(&csv_bytes(csv_rows)?).map_err(io)?;
            }
            if !open311_rows.is_empty() {
                out.write_all(&csv_bytes_as_is(open311_rows)?).map_err(io)?;
            }
            target.pass_on(&mut out).await?;
        }
        match format {
            ExportFormat::GeoJson => out.write_all(b"]}").map_err(io)?,
            ExportFormat::NgsiLd => out.write_all(b"]").map_err(io)?,
            ExportFormat::Xlsx => {
                if let Some(b) = book.as_mut() {
                    let mut zip = tempfile::tempfile().map_err(io)?;
                    b.save_to_writer(&mut zip).map_err(io)?;
                    zip.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
                    let mut chunk = vec![0u8; XLSX_CHUNK];
                    loop {
                        let n = zip.read(&mut chunk).map_err(io)?;
                        if n == 0 {
                            break;
                        }
                        out.extend_from_slice(&chunk[..n]);
                        target.pass_on(&mut out).await?;
                    }
                }
            }
            _ => {}
        }
        target.pass_on(&mut out).await?;
        if let Target::Writer(w) = &mut target {
            w.flush().map_err(io)?;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::demo_app;
    use cityloop_store::{Backend, CaseScope};

    /// How many rows the first sheet of an XLSX file holds, as a spreadsheet reader sees it.
    fn xlsx_rows(bytes: &[u8]) -> usize {
        use calamine::Reader;
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        book.worksheet_range("工单").unwrap().height()
    }

    #[tokio::test]
    async fn an_online_export_goes_out_batch_by_batch_with_the_same_bytes_as_a_file() {
        let demo = demo_app(Backend::Sqlite, 40, 1024).await;
        let app = &demo.app;
        let everything = || CaseFilter::new(CaseScope::everything(), app.now());
        for format in [ExportFormat::Csv, ExportFormat::GeoJson, ExportFormat::NgsiLd, ExportFormat::Xlsx] {
            let mut file = Vec::new();
            let n = app.export_cases(everything(), format, &mut file).await.unwrap();
            assert_eq!(n, 40);
            let mut rx = app.export_stream(everything(), format, Texts::AsWritten, 10);
            let mut chunks = Vec::new();
            while let Some(chunk) = rx.recv().await {
                chunks.push(chunk.unwrap());
            }
            // Four batches of ten; XLSX comes at the end, from its temporary file.
            let expected = if format == ExportFormat::Xlsx { 1 } else { 4 };
            assert!(chunks.len() >= expected, "{format:?}: {} chunks", chunks.len());
            if format != ExportFormat::Xlsx {
                assert_eq!(chunks.concat(), file, "{format:?}");
            } else {
                assert_eq!(&chunks.concat()[..2], b"PK");
                assert_eq!(xlsx_rows(&chunks.concat()), 41);
                assert_eq!(xlsx_rows(&file), 41);
            }
        }
    }
}
