//! Reference data: divisions, units, grids, categories with case standards, the dispatch catalogue,
//! the working calendar and settings.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use cityloop_domain::calendar::WorkPeriod;
use cityloop_domain::catalogue::CatalogueRule;
use cityloop_domain::enums::DivisionLevel;
use cityloop_domain::{
    CaseStandard, CategoryId, DivisionId, GridId, TimeLimit, TimingMode, UnitId, UnitKind, Urgency, WorkCalendar,
};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::rows::{corrupt, ids, parse_ids};
use crate::{Backend, Result, Store, StoreError};

/// An administrative division.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DivisionRow {
    pub id: DivisionId,
    pub code: String,
    pub name: String,
    pub level: DivisionLevel,
    pub parent_id: Option<DivisionId>,
}

/// A handling unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRow {
    pub id: UnitId,
    pub code: String,
    pub name: String,
    pub kind: UnitKind,
    pub parent_id: Option<UnitId>,
    pub division_id: Option<DivisionId>,
}

/// A unit grid; `geometry` is a GeoJSON geometry object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridRow {
    pub id: GridId,
    pub code: String,
    pub name: String,
    pub division_id: Option<DivisionId>,
    pub geometry: String,
    pub centroid_lat: f64,
    pub centroid_lon: f64,
}

/// A category; leaves carry a case standard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryRow {
    pub id: CategoryId,
    pub code: String,
    pub name: String,
    pub parent_id: Option<CategoryId>,
    pub standard: Option<CaseStandard>,
    /// Grid inspectors are to find this category's problems on patrol (the categories below it
    /// too): a case of it filed from another source is a missed report (漏报) of its grid's inspectors.
    pub patrolled: bool,
}

/// The working-hours part of the calendar, kept as one setting.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CalendarHours {
    utc_offset_secs: i32,
    periods: Vec<WorkPeriod>,
}

const CALENDAR_HOURS_KEY: &str = "calendar.hours";

fn division_from_row(r: &AnyRow) -> Result<DivisionRow> {
    let level: String = r.try_get("level")?;
    Ok(DivisionRow {
        id: DivisionId(r.try_get("id")?),
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        level: DivisionLevel::parse(&level).ok_or_else(|| corrupt("division level", &level))?,
        parent_id: r.try_get::<Option<i64>, _>("parent_id")?.map(DivisionId),
    })
}

fn unit_from_row(r: &AnyRow) -> Result<UnitRow> {
    let kind: String = r.try_get("kind")?;
    Ok(UnitRow {
        id: UnitId(r.try_get("id")?),
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        kind: UnitKind::parse(&kind).ok_or_else(|| corrupt("unit kind", &kind))?,
        parent_id: r.try_get::<Option<i64>, _>("parent_id")?.map(UnitId),
        division_id: r.try_get::<Option<i64>, _>("division_id")?.map(DivisionId),
    })
}

fn grid_from_row(r: &AnyRow) -> Result<GridRow> {
    Ok(GridRow {
        id: GridId(r.try_get("id")?),
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        division_id: r.try_get::<Option<i64>, _>("division_id")?.map(DivisionId),
        geometry: r.try_get("geometry")?,
        centroid_lat: r.try_get("centroid_lat")?,
        centroid_lon: r.try_get("centroid_lon")?,
    })
}

fn category_from_row(r: &AnyRow) -> Result<CategoryRow> {
    let standard = match (r.try_get::<Option<i64>, _>("limit_amount")?, r.try_get::<Option<String>, _>("limit_mode")?) {
        (Some(amount), Some(mode)) => {
            let urgency: String = r.try_get::<Option<String>, _>("urgency")?.unwrap_or_else(|| "normal".into());
            Some(CaseStandard {
                limit: TimeLimit::new(
                    u32::try_from(amount).unwrap_or(0),
                    TimingMode::parse(&mode).ok_or_else(|| corrupt("timing mode", &mode))?,
                ),
                urgency: Urgency::parse(&urgency).ok_or_else(|| corrupt("urgency", &urgency))?,
                filing_condition: r.try_get::<Option<String>, _>("filing_condition")?.unwrap_or_default(),
                closing_condition: r.try_get::<Option<String>, _>("closing_condition")?.unwrap_or_default(),
            })
        }
        _ => None,
    };
    Ok(CategoryRow {
        id: CategoryId(r.try_get("id")?),
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        parent_id: r.try_get::<Option<i64>, _>("parent_id")?.map(CategoryId),
        patrolled: r.try_get::<i64, _>("patrolled")? != 0,
        standard,
    })
}

fn rule_from_row(r: &AnyRow) -> Result<CatalogueRule> {
    Ok(CatalogueRule {
        id: r.try_get("id")?,
        category_id: CategoryId(r.try_get("category_id")?),
        division_id: r.try_get::<Option<i64>, _>("division_id")?.map(DivisionId),
        lead_unit: UnitId(r.try_get("lead_unit_id")?),
        assisting_units: parse_ids(&r.try_get::<String, _>("assisting_units")?).into_iter().map(UnitId).collect(),
    })
}

impl Store {
    // ---- divisions ----

    /// Adds a division.
    pub async fn insert_division(
        &self,
        code: &str,
        name: &str,
        level: DivisionLevel,
        parent: Option<DivisionId>,
    ) -> Result<DivisionId> {
        let id: i64 = sqlx::query_scalar(
            "insert into divisions (code, name, level, parent_id) values ($1, $2, $3, $4) returning id",
        )
        .bind(code)
        .bind(name)
        .bind(level.as_str())
        .bind(parent.map(|p| p.0))
        .fetch_one(self.writer())
        .await?;
        Ok(DivisionId(id))
    }

    /// The polygons of the divisions that have one, as GeoJSON geometry text.
    pub async fn division_areas(&self) -> Result<Vec<(DivisionId, String)>> {
        let rows = sqlx::query("select id, geometry from divisions where geometry is not null order by id")
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(|r| Ok((DivisionId(r.try_get(0)?), r.try_get(1)?))).collect()
    }

    /// Sets a division's name and polygon.
    pub async fn set_division_area(&self, id: DivisionId, name: &str, geometry: &str) -> Result<()> {
        sqlx::query("update divisions set name = $1, geometry = $2 where id = $3")
            .bind(name)
            .bind(geometry)
            .bind(id.0)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// All divisions, by id.
    pub async fn list_divisions(&self) -> Result<Vec<DivisionRow>> {
        let rows = sqlx::query("select id, code, name, level, parent_id from divisions order by id")
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(division_from_row).collect()
    }

    // ---- units ----

    /// Adds a unit.
    pub async fn insert_unit(
        &self,
        code: &str,
        name: &str,
        kind: UnitKind,
        parent: Option<UnitId>,
        division: Option<DivisionId>,
    ) -> Result<UnitId> {
        let id: i64 = sqlx::query_scalar(
            "insert into units (code, name, kind, parent_id, division_id) values ($1, $2, $3, $4, $5) returning id",
        )
        .bind(code)
        .bind(name)
        .bind(kind.as_str())
        .bind(parent.map(|p| p.0))
        .bind(division.map(|d| d.0))
        .fetch_one(self.writer())
        .await?;
        Ok(UnitId(id))
    }

    /// Changes everything about a unit but its code.
    pub async fn update_unit(
        &self,
        id: UnitId,
        name: &str,
        kind: UnitKind,
        parent: Option<UnitId>,
        division: Option<DivisionId>,
    ) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        if self.backend == Backend::Postgres {
            // Changes to the tree take turns, so that two moves at once cannot each pass the check
            // below and together make a loop (SQLite's writers take turns already).
            sqlx::query("lock table units in share row exclusive mode").execute(&mut *tx).await?;
        }
        let done = sqlx::query("update units set name = $1, kind = $2, parent_id = $3, division_id = $4 where id = $5")
            .bind(name)
            .bind(kind.as_str())
            .bind(parent.map(|p| p.0))
            .bind(division.map(|d| d.0))
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(parent) = parent {
            // `union` drops repeated rows, so the walk ends even on a loop made before.
            let loops: i64 = sqlx::query_scalar(
                "with recursive above(id, parent_id) as (select id, parent_id from units where id = $1 \
                 union select u.id, u.parent_id from units u join above a on u.id = a.parent_id) \
                 select count(*) from above where id = $2",
            )
            .bind(parent.0)
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await?;
            if loops > 0 {
                return Err(StoreError::Invalid("a unit cannot be placed under itself or a unit below it".into()));
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// All units, by id.
    pub async fn list_units(&self) -> Result<Vec<UnitRow>> {
        let rows = sqlx::query("select id, code, name, kind, parent_id, division_id from units order by id")
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(unit_from_row).collect()
    }

    // ---- grids ----

    /// Adds a grid, or replaces the shape, name and community of the grid with the same code.
    pub async fn upsert_grid(&self, g: &GridRow) -> Result<GridId> {
        let id: i64 = sqlx::query_scalar(
            "insert into grids (code, name, division_id, geometry, centroid_lat, centroid_lon) values ($1, $2, $3, $4, $5, $6) \
             on conflict (code) do update set name = excluded.name, division_id = excluded.division_id, \
             geometry = excluded.geometry, centroid_lat = excluded.centroid_lat, centroid_lon = excluded.centroid_lon \
             returning id",
        )
        .bind(&g.code)
        .bind(&g.name)
        .bind(g.division_id.map(|d| d.0))
        .bind(&g.geometry)
        .bind(g.centroid_lat)
        .bind(g.centroid_lon)
        .fetch_one(self.writer())
        .await?;
        Ok(GridId(id))
    }

    /// All grids with their shapes, by id.
    pub async fn list_grids(&self) -> Result<Vec<GridRow>> {
        let rows = sqlx::query(
            "select id, code, name, division_id, geometry, centroid_lat, centroid_lon from grids order by id",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(grid_from_row).collect()
    }

    // ---- categories ----

    /// Adds a category, or updates the name, parent and standard of the one with the same code;
    /// `patrolled` left out keeps what the category had (a new one is not patrolled).
    pub async fn upsert_category(
        &self,
        code: &str,
        name: &str,
        parent: Option<CategoryId>,
        standard: Option<&CaseStandard>,
        patrolled: Option<bool>,
    ) -> Result<CategoryId> {
        let id: i64 = sqlx::query_scalar(
            "insert into categories (code, name, parent_id, limit_amount, limit_mode, urgency, filing_condition, closing_condition, patrolled) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, 0)) \
             on conflict (code) do update set name = excluded.name, parent_id = excluded.parent_id, \
             limit_amount = excluded.limit_amount, limit_mode = excluded.limit_mode, urgency = excluded.urgency, \
             filing_condition = excluded.filing_condition, closing_condition = excluded.closing_condition, \
             patrolled = coalesce($9, categories.patrolled) \
             returning id",
        )
        .bind(code)
        .bind(name)
        .bind(parent.map(|p| p.0))
        .bind(standard.map(|s| i64::from(s.limit.amount)))
        .bind(standard.map(|s| s.limit.mode.as_str()))
        .bind(standard.map(|s| s.urgency.as_str()))
        .bind(standard.map(|s| s.filing_condition.clone()))
        .bind(standard.map(|s| s.closing_condition.clone()))
        .bind(patrolled.map(i64::from))
        .fetch_one(self.writer())
        .await?;
        Ok(CategoryId(id))
    }

    /// All categories, by id.
    pub async fn list_categories(&self) -> Result<Vec<CategoryRow>> {
        let rows = sqlx::query(
            "select id, code, name, parent_id, limit_amount, limit_mode, urgency, filing_condition, closing_condition, \
             patrolled from categories order by id",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(category_from_row).collect()
    }

    // ---- catalogue ----

    /// Adds a catalogue rule, replacing any rule for the same category and division.
    pub async fn put_catalogue_rule(&self, rule: &CatalogueRule) -> Result<i64> {
        let mut tx = self.writer().begin().await?;
        match rule.division_id {
            Some(d) => sqlx::query("delete from catalogue where category_id = $1 and division_id = $2")
                .bind(rule.category_id.0)
                .bind(d.0),
            None => sqlx::query("delete from catalogue where category_id = $1 and division_id is null")
                .bind(rule.category_id.0),
        }
        .execute(&mut *tx)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "insert into catalogue (category_id, division_id, lead_unit_id, assisting_units) values ($1, $2, $3, $4) returning id",
        )
        .bind(rule.category_id.0)
        .bind(rule.division_id.map(|d| d.0))
        .bind(rule.lead_unit.0)
        .bind(ids(&rule.assisting_units))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Removes a catalogue rule.
    pub async fn delete_catalogue_rule(&self, id: i64) -> Result<()> {
        let done = sqlx::query("delete from catalogue where id = $1").bind(id).execute(self.writer()).await?;
        if done.rows_affected() == 0 {
            return Err(crate::StoreError::NotFound);
        }
        Ok(())
    }

    /// The whole catalogue, by id.
    pub async fn list_catalogue(&self) -> Result<Vec<CatalogueRule>> {
        let rows = sqlx::query(
            "select id, category_id, division_id, lead_unit_id, assisting_units from catalogue order by id",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(rule_from_row).collect()
    }

    // ---- calendar and settings ----

    /// The working calendar: stored hours (or the default) plus holidays and swapped working days.
    pub async fn load_calendar(&self) -> Result<WorkCalendar> {
        let mut cal = WorkCalendar::default();
        if let Some(hours) = self.get_setting(CALENDAR_HOURS_KEY).await? {
            let hours: CalendarHours =
                serde_json::from_str(&hours).map_err(|e| crate::StoreError::Corrupt(format!("calendar hours: {e}")))?;
            cal.utc_offset_secs = hours.utc_offset_secs;
            cal.periods = hours.periods;
        }
        let rows = sqlx::query("select day, kind from calendar_days").fetch_all(self.reader()).await?;
        let (mut holidays, mut workdays) = (BTreeSet::new(), BTreeSet::new());
        for r in rows {
            let day: String = r.try_get("day")?;
            let kind: String = r.try_get("kind")?;
            let date = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|_| corrupt("calendar day", &day))?;
            match kind.as_str() {
                "holiday" => holidays.insert(date),
                "workday" => workdays.insert(date),
                other => return Err(corrupt("calendar day kind", other)),
            };
        }
        cal.holidays = holidays;
        cal.workdays = workdays;
        Ok(cal)
    }

    /// Stores the working hours and time zone of the calendar.
    pub async fn save_calendar_hours(&self, cal: &WorkCalendar) -> Result<()> {
        let hours = CalendarHours { utc_offset_secs: cal.utc_offset_secs, periods: cal.periods.clone() };
        self.set_setting(CALENDAR_HOURS_KEY, &serde_json::to_string(&hours).unwrap_or_default()).await
    }

    /// Marks a day as a holiday or a swapped working day (`kind`: `holiday` | `workday`), or clears it
    /// (`kind`: `None`).
    pub async fn set_calendar_day(&self, day: NaiveDate, kind: Option<&str>, note: &str) -> Result<()> {
        let key = day.format("%Y-%m-%d").to_string();
        match kind {
            Some(kind) => {
                sqlx::query(
                    "insert into calendar_days (day, kind, note) values ($1, $2, $3) \
                     on conflict (day) do update set kind = excluded.kind, note = excluded.note",
                )
                .bind(key)
                .bind(kind)
                .bind(note)
                .execute(self.writer())
                .await?
            }
            None => sqlx::query("delete from calendar_days where day = $1").bind(key).execute(self.writer()).await?,
        };
        Ok(())
    }

    /// The notes of holidays and swapped working days, by day.
    pub async fn calendar_notes(&self) -> Result<Vec<(String, String, String)>> {
        let rows =
            sqlx::query("select day, kind, note from calendar_days order by day").fetch_all(self.reader()).await?;
        rows.iter().map(|r| Ok((r.try_get("day")?, r.try_get("kind")?, r.try_get("note")?))).collect()
    }

    /// Reads a setting.
    pub async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("select value from settings where key = $1")
            .bind(key)
            .fetch_optional(self.reader())
            .await?)
    }

    /// Writes a setting.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "insert into settings (key, value) values ($1, $2) on conflict (key) do update set value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
