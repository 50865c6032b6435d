//! Conversions between stored columns and domain values.

use chrono::{DateTime, TimeZone, Utc};
use cityloop_domain::{
    Case, CaseId, CategoryId, Channel, Contact, DivisionId, GridId, Location, RequestType, Revisit, Satisfaction,
    State, TimeLimit, TimingMode, UnitId, Urgency, UserId,
};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::contact_crypto::ContactCipher;
use crate::{Result, StoreError};

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn opt_ms(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(ms)
}

pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} `{value}`"))
}

pub(crate) fn get_opt_ms(row: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(from_ms))
}

/// A stored row, read through the pool's driver or through SQLite's own connection (see
/// [`crate::Store::fetch_decoded`]), so that one decoder serves both.
pub(crate) trait Columns {
    fn int(&self, col: &str) -> Result<i64>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    fn opt_real(&self, col: &str) -> Result<Option<f64>>;
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
}

impl Columns for AnyRow {
    fn int(&self, col: &str) -> Result<i64> {
        Ok(self.try_get(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.try_get(col)?)
    }
    fn opt_real(&self, col: &str) -> Result<Option<f64>> {
        Ok(self.try_get(col)?)
    }
    fn text(&self, col: &str) -> Result<String> {
        Ok(self.try_get(col)?)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(self.try_get(col)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, col: &str) -> Result<i64> {
        Ok(self.get(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.get(col)?)
    }
    fn opt_real(&self, col: &str) -> Result<Option<f64>> {
        Ok(self.get(col)?)
    }
    fn text(&self, col: &str) -> Result<String> {
        Ok(self.get(col)?)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(self.get(col)?)
    }
}

pub(crate) fn ids<T: Copy + Into<i64>>(v: &[T]) -> String {
    serde_json::to_string(&v.iter().map(|x| (*x).into()).collect::<Vec<i64>>()).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn parse_ids(text: &str) -> Vec<i64> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The columns of `cases`, in the order [`case_from_row`] and the writers use.
pub(crate) const CASE_COLUMNS: &str = "id, number, state, version, channel, request_type, title, description, \
    category_id, urgency, lat, lon, address, grid_id, division_id, contact_name, contact_phone, confidential, \
    reporter_id, unit_id, assisting_units, first_unit_id, limit_amount, limit_mode, deadline, overdue_at, \
    extensions, suspensions, suspended_at, suspended_until, pending, returns, reworks, reopens, supervision_level, \
    escalations, master_id, result, revisit_contacted, revisit_solved, revisit_satisfaction, rated, \
    created_at, updated_at, closed_at";

fn count(row: &AnyRow, col: &str) -> Result<u32> {
    Ok(u32::try_from(row.try_get::<i64, _>(col)?).unwrap_or(0))
}

pub(crate) fn case_from_row(row: &AnyRow, contacts: &ContactCipher) -> Result<Case> {
    let text = |col: &str| -> Result<String> { Ok(row.try_get::<String, _>(col)?) };
    let opt_text = |col: &str| -> Result<Option<String>> { Ok(row.try_get::<Option<String>, _>(col)?) };
    let opt_i64 = |col: &str| -> Result<Option<i64>> { Ok(row.try_get::<Option<i64>, _>(col)?) };

    let state = text("state")?;
    let channel = text("channel")?;
    let request_type = text("request_type")?;
    let urgency = text("urgency")?;
    let location = match (row.try_get::<Option<f64>, _>("lat")?, row.try_get::<Option<f64>, _>("lon")?) {
        (Some(lat), Some(lon)) => Some(Location { lat, lon, address: opt_text("address")? }),
        _ => None,
    };
    let open = |col: &str| -> Result<Option<String>> { opt_text(col)?.map(|v| contacts.open(col, &v)).transpose() };
    let contact = match (open("contact_name")?, open("contact_phone")?) {
        (None, None) => None,
        (name, phone) => Some(Contact { name: name.unwrap_or_default(), phone: phone.unwrap_or_default() }),
    };
    let limit = match (opt_i64("limit_amount")?, opt_text("limit_mode")?) {
        (Some(amount), Some(mode)) => Some(TimeLimit::new(
            u32::try_from(amount).unwrap_or(0),
            TimingMode::parse(&mode).ok_or_else(|| corrupt("timing mode", &mode))?,
        )),
        _ => None,
    };
    let revisit = match (opt_i64("revisit_contacted")?, opt_i64("revisit_solved")?, opt_text("revisit_satisfaction")?) {
        (Some(c), Some(s), Some(sat)) => Some(Revisit {
            contacted: c != 0,
            solved: s != 0,
            satisfaction: Satisfaction::parse(&sat).ok_or_else(|| corrupt("satisfaction", &sat))?,
        }),
        _ => None,
    };
    let pending = match opt_text("pending")? {
        Some(p) => Some(serde_json::from_str(&p).map_err(|e| StoreError::Corrupt(format!("pending request: {e}")))?),
        None => None,
    };
    Ok(Case {
        id: CaseId(row.try_get("id")?),
        number: text("number")?,
        state: State::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        version: row.try_get("version")?,
        channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
        request_type: RequestType::parse(&request_type).ok_or_else(|| corrupt("request type", &request_type))?,
        title: text("title")?,
        description: text("description")?,
        category_id: opt_i64("category_id")?.map(CategoryId),
        urgency: Urgency::parse(&urgency).ok_or_else(|| corrupt("urgency", &urgency))?,
        location,
        grid_id: opt_i64("grid_id")?.map(GridId),
        division_id: opt_i64("division_id")?.map(DivisionId),
        contact,
        confidential: row.try_get::<i64, _>("confidential")? != 0,
        reporter_id: opt_i64("reporter_id")?.map(UserId),
        unit_id: opt_i64("unit_id")?.map(UnitId),
        assisting_units: parse_ids(&text("assisting_units")?).into_iter().map(UnitId).collect(),
        first_unit_id: opt_i64("first_unit_id")?.map(UnitId),
        limit,
        deadline: get_opt_ms(row, "deadline")?,
        overdue_at: get_opt_ms(row, "overdue_at")?,
        extensions: count(row, "extensions")?,
        suspensions: count(row, "suspensions")?,
        suspended_at: get_opt_ms(row, "suspended_at")?,
        suspended_until: get_opt_ms(row, "suspended_until")?,
        pending,
        returns: count(row, "returns")?,
        reworks: count(row, "reworks")?,
        reopens: count(row, "reopens")?,
        supervision_level: count(row, "supervision_level")?,
        escalations: count(row, "escalations")?,
        master_id: opt_i64("master_id")?.map(CaseId),
        result: opt_text("result")?,
        revisit,
        rated: row.try_get::<i64, _>("rated")? != 0,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        closed_at: get_opt_ms(row, "closed_at")?,
    })
}

/// The values of every column of [`CASE_COLUMNS`] except `id`, in order.
pub(crate) fn case_values(c: &Case, contacts: &ContactCipher) -> Vec<crate::args::Arg> {
    use crate::args::Arg;
    let b = |v: bool| Arg::from(i64::from(v));
    vec![
        c.number.clone().into(),
        c.state.as_str().into(),
        c.version.into(),
        c.channel.as_str().into(),
        c.request_type.as_str().into(),
        c.title.clone().into(),
        c.description.clone().into(),
        c.category_id.map(|v| v.0).into(),
        c.urgency.as_str().into(),
        c.location.as_ref().map(|l| l.lat).into(),
        c.location.as_ref().map(|l| l.lon).into(),
        c.location.as_ref().and_then(|l| l.address.clone()).into(),
        c.grid_id.map(|v| v.0).into(),
        c.division_id.map(|v| v.0).into(),
        c.contact.as_ref().map(|x| contacts.seal("contact_name", &x.name)).into(),
        c.contact.as_ref().map(|x| contacts.seal("contact_phone", &x.phone)).into(),
        b(c.confidential),
        c.reporter_id.map(|v| v.0).into(),
        c.unit_id.map(|v| v.0).into(),
        ids(&c.assisting_units).into(),
        c.first_unit_id.map(|v| v.0).into(),
        c.limit.map(|l| i64::from(l.amount)).into(),
        c.limit.map(|l| l.mode.as_str().to_string()).into(),
        opt_ms(c.deadline).into(),
        opt_ms(c.overdue_at).into(),
        i64::from(c.extensions).into(),
        i64::from(c.suspensions).into(),
        opt_ms(c.suspended_at).into(),
        opt_ms(c.suspended_until).into(),
        c.pending.as_ref().map(|p| serde_json::to_string(p).unwrap_or_default()).into(),
        i64::from(c.returns).into(),
        i64::from(c.reworks).into(),
        i64::from(c.reopens).into(),
        i64::from(c.supervision_level).into(),
        i64::from(c.escalations).into(),
        c.master_id.map(|v| v.0).into(),
        c.result.clone().into(),
        c.revisit.map(|r| i64::from(r.contacted)).into(),
        c.revisit.map(|r| i64::from(r.solved)).into(),
        c.revisit.map(|r| r.satisfaction.as_str().to_string()).into(),
        b(c.rated),
        ms(c.created_at).into(),
        ms(c.updated_at).into(),
        opt_ms(c.closed_at).into(),
    ]
}
