//! The source formats: each reads one record (by its header names) into a [`SourceRecord`], or says
//! what is wrong with it.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use cityloop_domain::Channel;

/// The formats `cityloop import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// GeoReport bulk CSV (the request fields plus `closed_date`, `source`…).
    Open311Csv,
    /// NYC Open Data 311 Service Requests (46 columns).
    Nyc311,
    /// Baltimore 311 Customer Service Requests.
    Baltimore311,
    /// Chinese message-board and 12345 exports (留言编号, 留言用户, 留言主题, 留言时间, 留言详情,
    /// optionally 答复意见 and 答复时间), CSV or XLSX.
    Messages,
}

impl SourceFormat {
    pub const NAMES: &'static [&'static str] = &["open311-csv", "nyc311", "baltimore311", "messages"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "open311-csv" => Some(Self::Open311Csv),
            "nyc311" => Some(Self::Nyc311),
            "baltimore311" => Some(Self::Baltimore311),
            "messages" => Some(Self::Messages),
            _ => None,
        }
    }

    /// The default name records of this format are kept under (the idempotency namespace).
    pub fn source_name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Columns a file of this format must have.
    pub fn required_columns(self) -> &'static [&'static str] {
        match self {
            Self::Open311Csv => &["service_request_id", "requested_datetime"],
            Self::Nyc311 => &["Unique Key", "Created Date", "Complaint Type", "Status"],
            Self::Baltimore311 => &["ServiceRequestNum", "SRType", "CreatedDate", "SRStatus"],
            Self::Messages => &["留言编号", "留言主题", "留言时间", "留言详情"],
        }
    }
}

/// One source record in cityloop's terms, before mapping.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceRecord {
    pub external_id: String,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed: bool,
    /// When the source's agency was due to finish (its service level), if the source says.
    pub due_at: Option<DateTime<Utc>>,
    pub title: String,
    pub description: String,
    /// The source's category (mapped onto the category tree).
    pub category: Option<String>,
    /// The source's agency or department (mapped onto units).
    pub agency: Option<String>,
    /// The source's area (mapped onto divisions).
    pub area: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    pub channel: Option<Channel>,
    /// What the unit did or answered.
    pub result: Option<String>,
    /// Anything else worth keeping with the report record (a user handle, votes).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Where each column is, by header name (looked up once per file, not per record).
pub struct Columns(std::collections::HashMap<String, usize>);

impl Columns {
    pub fn new(headers: &[String]) -> Self {
        let mut map = std::collections::HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            map.entry(h.clone()).or_insert(i);
        }
        Columns(map)
    }
}

/// A record with its header, read by column name.
pub struct Fields<'a> {
    pub columns: &'a Columns,
    pub values: &'a [String],
}

impl Fields<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        let i = *self.columns.0.get(name)?;
        self.values.get(i).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn need(&self, name: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| format!("{name}: is empty"))
    }

    fn owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }
}

/// Reads a date and time in the formats the sources use; local times are in `offset`.
pub fn parse_time(field: &str, v: &str, offset: FixedOffset) -> Result<DateTime<Utc>, String> {
    let local = match us_twelve_hour(v) {
        Some(local) => local,
        None => {
            if let Ok(t) = DateTime::parse_from_rfc3339(v) {
                return Ok(t.with_timezone(&Utc));
            }
            any_local_time(field, v)?
        }
    };
    local
        .and_local_timezone(offset)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("{field}: `{v}` does not exist in the source's time zone"))
}

/// `04/12/2018 11:11:26 AM`, as the 311 exports write every time, read without the general parser,
/// which reads its format anew for every value (a tenth of the reading in a load of such a file).
fn us_twelve_hour(v: &str) -> Option<NaiveDateTime> {
    let b = v.as_bytes();
    if b.len() != 22 || b[2] != b'/' || b[5] != b'/' || b[10] != b' ' || b[13] != b':' || b[16] != b':' || b[19] != b' '
    {
        return None;
    }
    let number = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let (month, day, year) = (number(0, 2)?, number(3, 5)?, number(6, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    let afternoon = match &b[20..] {
        b"AM" | b"am" => 0,
        b"PM" | b"pm" => 12,
        _ => return None,
    };
    if !(1..=12).contains(&hour) {
        return None;
    }
    NaiveDate::from_ymd_opt(year as i32, month, day)?.and_hms_opt(hour % 12 + afternoon, minute, second)
}

/// A local date and time in any of the other forms the sources use.
fn any_local_time(field: &str, v: &str) -> Result<NaiveDateTime, String> {
    const LOCAL: &[&str] = &[
        "%m/%d/%Y %I:%M:%S %p",
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y-%m-%d %H:%M",
    ];
    LOCAL
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .or_else(|| {
            ["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y"]
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(v, f).ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(|| format!("{field}: `{v}` is not a date and time"))
}

fn optional_time(f: &Fields, name: &str, offset: FixedOffset) -> Result<Option<DateTime<Utc>>, String> {
    f.get(name).map(|v| parse_time(name, v, offset)).transpose()
}

fn coordinate(f: &Fields, name: &str) -> Result<Option<f64>, String> {
    f.get(name).map(|v| v.parse::<f64>().map_err(|_| format!("{name}: `{v}` is not a number"))).transpose()
}

/// Baltimore writes (39, -77) and (39, -76) for "somewhere in the county": no location.
fn real_place(lat: Option<f64>, lon: Option<f64>) -> (Option<f64>, Option<f64>) {
    match (lat, lon) {
        (Some(a), Some(o)) if a.fract() == 0.0 && o.fract() == 0.0 => (None, None),
        (Some(a), Some(o)) if (-90.0..=90.0).contains(&a) && (-180.0..=180.0).contains(&o) => (Some(a), Some(o)),
        _ => (None, None),
    }
}

fn channel_of(method: Option<&str>) -> Option<Channel> {
    let m = method?.to_ascii_lowercase();
    Some(if m.contains("phone") || m.contains("call") {
        Channel::Hotline
    } else if m.contains("mobile") || m.contains("app") {
        Channel::App
    } else if m.contains("online") || m.contains("web") || m.contains("internet") || m.contains("email") {
        Channel::Web
    } else if m.contains("text") || m.contains("sms") {
        Channel::Sms
    } else {
        return None;
    })
}

fn shorten(text: &str, max: usize) -> String {
    let t: String = text.chars().take(max).collect();
    if t.chars().count() < text.chars().count() {
        format!("{t}…")
    } else {
        t
    }
}

/// Reads one record of a format.
pub fn read_record(format: SourceFormat, f: &Fields, offset: FixedOffset) -> Result<SourceRecord, String> {
    let mut r = SourceRecord::default();
    match format {
        SourceFormat::Open311Csv => {
            r.external_id = f.need("service_request_id")?.to_string();
            r.created_at = parse_time("requested_datetime", f.need("requested_datetime")?, offset)?;
            r.closed_at = optional_time(f, "closed_date", offset)?;
            r.due_at = optional_time(f, "expected_datetime", offset)?;
            r.closed = f.get("status").is_some_and(|s| s.eq_ignore_ascii_case("closed"));
            let name = f.get("service_name").unwrap_or_default();
            r.description = f.owned("description").unwrap_or_else(|| name.to_string());
            r.title = if name.is_empty() { shorten(&r.description, 40) } else { name.to_string() };
            r.category = f.owned("service_code").or_else(|| f.owned("service_name"));
            r.agency = f.owned("agency_responsible");
            r.area = f.owned("address_id").or_else(|| f.owned("zipcode"));
            (r.lat, r.lon) = real_place(coordinate(f, "lat")?, coordinate(f, "long")?);
            r.address = f.owned("address");
            r.channel = channel_of(f.get("source"));
            r.result = f.owned("status_notes").or_else(|| f.owned("status_description"));
        }
        SourceFormat::Nyc311 => {
            r.external_id = f.need("Unique Key")?.to_string();
            r.created_at = parse_time("Created Date", f.need("Created Date")?, offset)?;
            r.closed_at = optional_time(f, "Closed Date", offset)?;
            r.due_at = optional_time(f, "Due Date", offset)?;
            r.closed = f.get("Status").is_some_and(|s| s.eq_ignore_ascii_case("closed"));
            let kind = f.need("Complaint Type")?;
            let detail = f.get("Descriptor");
            r.title = match detail {
                Some(d) => format!("{kind} - {d}"),
                None => kind.to_string(),
            };
            let place =
                [f.get("Incident Address"), f.get("Borough")].into_iter().flatten().collect::<Vec<_>>().join(", ");
            r.description = if place.is_empty() { r.title.clone() } else { format!("{} ({place})", r.title) };
            r.category = Some(kind.to_string());
            r.agency = f.owned("Agency");
            r.area = f.owned("Community Board");
            (r.lat, r.lon) = real_place(coordinate(f, "Latitude")?, coordinate(f, "Longitude")?);
            r.address = f.owned("Incident Address");
            r.channel = channel_of(f.get("Open Data Channel Type"));
            r.result = f.owned("Resolution Description");
        }
        SourceFormat::Baltimore311 => {
            r.external_id = f.need("ServiceRequestNum")?.to_string();
            r.created_at = parse_time("CreatedDate", f.need("CreatedDate")?, offset)?;
            r.closed_at = optional_time(f, "CloseDate", offset)?;
            r.due_at = optional_time(f, "DueDate", offset)?;
            r.closed = f.get("SRStatus").is_some_and(|s| s.eq_ignore_ascii_case("closed"));
            let kind = f.need("SRType")?;
            r.title = kind.to_string();
            r.description = match f.get("Address") {
                Some(a) => format!("{kind} ({a})"),
                None => kind.to_string(),
            };
            r.category = Some(kind.to_string());
            r.agency = f.owned("Agency");
            r.area = f.owned("Neighborhood");
            (r.lat, r.lon) = real_place(coordinate(f, "Latitude")?, coordinate(f, "Longitude")?);
            r.address = f.owned("Address");
            r.channel = channel_of(f.get("MethodReceived"));
            r.result = f.owned("Outcome");
        }
        SourceFormat::Messages => {
            r.external_id = f.need("留言编号")?.to_string();
            r.created_at = parse_time("留言时间", f.need("留言时间")?, offset)?;
            r.title = shorten(f.need("留言主题")?, 200);
            r.description = f.need("留言详情")?.to_string();
            r.channel = Some(Channel::Web);
            if let Some(reply) = f.owned("答复意见") {
                r.closed = true;
                r.closed_at = Some(parse_time("答复时间", f.need("答复时间")?, offset)?);
                r.result = Some(reply);
            }
            for (column, key) in [("留言用户", "user"), ("点赞数", "votes_up"), ("反对数", "votes_down")] {
                if let Some(v) = f.get(column) {
                    let value = v.parse::<i64>().map_or_else(|_| serde_json::json!(v), |n| serde_json::json!(n));
                    r.extra.insert(key.into(), value);
                }
            }
        }
    }
    if let (Some(closed), true) = (r.closed_at, r.closed) {
        if closed < r.created_at {
            return Err(format!("closed {} before it was created {}", closed.to_rfc3339(), r.created_at.to_rfc3339()));
        }
    }
    if !r.closed {
        r.closed_at = None;
    } else if r.closed_at.is_none() {
        return Err("closed without a closing date".into());
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_hour_times_read_as_the_general_parser_reads_them() {
        for v in [
            "04/12/2018 11:11:26 AM",
            "04/12/2018 12:00:00 AM",
            "04/12/2018 12:59:59 PM",
            "04/12/2018 01:05:09 pm",
            "12/31/2019 11:59:59 PM",
            "02/29/2020 06:30:00 AM",
        ] {
            let general = any_local_time("t", v).unwrap();
            assert_eq!(us_twelve_hour(v), Some(general), "{v}");
        }
        // Not this form, or not a time: left to the general parser, which names the field.
        for v in ["02/30/2019 06:30:00 AM", "04/12/2018 13:00:00 PM", "04/12/2018 00:10:00 AM", "2018-04-12 11:11:26"] {
            assert_eq!(us_twelve_hour(v), None, "{v}");
        }
        let offset = FixedOffset::east_opt(-5 * 3600).unwrap();
        assert_eq!(
            parse_time("CreatedDate", "04/12/2018 11:11:26 PM", offset).unwrap().to_rfc3339(),
            "2018-04-13T04:11:26+00:00"
        );
        assert!(parse_time("CreatedDate", "02/30/2019 06:30:00 AM", offset).unwrap_err().starts_with("CreatedDate: "));
    }

    fn fields(pairs: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
        (pairs.iter().map(|p| p.0.to_string()).collect(), pairs.iter().map(|p| p.1.to_string()).collect())
    }

    fn read(format: SourceFormat, pairs: &[(&str, &str)]) -> Result<SourceRecord, String> {
        let (h, v) = fields(pairs);
        read_record(
            format,
            &Fields { columns: &Columns::new(&h), values: &v },
            FixedOffset::east_opt(8 * 3600).unwrap(),
        )
    }

    #[test]
    fn a_message_with_a_reply_is_a_closed_case_carrying_the_reply() {
        let r = read(
            SourceFormat::Messages,
            &[
                ("留言编号", "2549"),
                ("留言用户", "A00045581"),
                ("留言主题", "物业管理有问题"),
                ("留言时间", "2019/4/25 9:32:09"),
                ("留言详情", "小区物业扬言退出"),
                ("答复意见", "已责成物业整改"),
                ("答复时间", "2019/5/10 14:56:53"),
                ("点赞数", "3"),
            ],
        )
        .unwrap();
        assert_eq!(r.created_at.to_rfc3339(), "2019-04-25T01:32:09+00:00");
        assert!(r.closed);
        assert_eq!(r.result.as_deref(), Some("已责成物业整改"));
        assert_eq!(r.extra["votes_up"], 3);
        let no_time = read(
            SourceFormat::Messages,
            &[
                ("留言编号", "1"),
                ("留言主题", "t"),
                ("留言时间", "2019/4/25 9:32:09"),
                ("留言详情", "d"),
                ("答复意见", "r"),
            ],
        );
        assert_eq!(no_time.unwrap_err(), "答复时间: is empty");
    }

    #[test]
    fn sources_defects_are_named() {
        let nyc = read(
            SourceFormat::Nyc311,
            &[
                ("Unique Key", "1"),
                ("Created Date", "02/28/2023 11:45:00 PM"),
                ("Closed Date", "01/01/2023 01:00:00 AM"),
                ("Complaint Type", "Noise"),
                ("Status", "Closed"),
            ],
        );
        assert!(nyc.unwrap_err().starts_with("closed 2022-12-31"), "closed before created");
        let bad_date = read(
            SourceFormat::Baltimore311,
            &[("ServiceRequestNum", "1"), ("SRType", "x"), ("CreatedDate", "yesterday"), ("SRStatus", "Open")],
        );
        assert_eq!(bad_date.unwrap_err(), "CreatedDate: `yesterday` is not a date and time");
        let placeholder = read(
            SourceFormat::Baltimore311,
            &[
                ("ServiceRequestNum", "1"),
                ("SRType", "SW-Dirty Alley"),
                ("CreatedDate", "04/16/2018 05:30:13 AM"),
                ("SRStatus", "Open"),
                ("Latitude", "39"),
                ("Longitude", "-77"),
                ("MethodReceived", "Phone"),
                ("DueDate", "04/19/2018 05:30:13 AM"),
            ],
        )
        .unwrap();
        assert_eq!((placeholder.lat, placeholder.channel), (None, Some(Channel::Hotline)));
        assert_eq!(
            placeholder.due_at.map(|d| d.to_rfc3339()).as_deref(),
            Some("2018-04-18T21:30:13+00:00"),
            "local time of the city (UTC+8)"
        );
        let bad_due = read(
            SourceFormat::Baltimore311,
            &[
                ("ServiceRequestNum", "1"),
                ("SRType", "x"),
                ("CreatedDate", "04/16/2018 05:30:13 AM"),
                ("SRStatus", "Open"),
                ("DueDate", "soon"),
            ],
        );
        assert_eq!(bad_due.unwrap_err(), "DueDate: `soon` is not a date and time");
    }
}
