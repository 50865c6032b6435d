//! Risk signals and the per-place daily counts they are found in.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cityloop_domain::signals::SignalKind;
use cityloop_domain::{CaseId, CategoryId, DivisionId, GridId};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::args::{Arg, Sql};
use crate::rows::{from_ms, ms};
use crate::{Result, Store, StoreError};

/// A case's words and who reported it (a phone or a user; empty when anonymous).
#[derive(Debug, Clone)]
pub struct CaseText {
    pub id: CaseId,
    pub title: String,
    pub description: String,
    pub category_id: Option<i64>,
    pub person: String,
    pub created_at: DateTime<Utc>,
}

/// Where and what a new case is, for the counts and the watch words.
#[derive(Debug, Clone)]
pub struct CasePlace {
    pub id: CaseId,
    pub channel: String,
    pub category_id: Option<CategoryId>,
    pub grid_id: Option<GridId>,
    pub division_id: Option<DivisionId>,
    pub location: Option<(f64, f64)>,
    pub text: String,
}

/// A place counts are kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AreaKind {
    Grid,
    Division,
    /// A cell of the hexagonal H3 index (the cell's 64-bit index as the id).
    Hex,
    /// A density cluster of cases (the H3 cell at resolution 8 of its centre as the id). Never counted:
    /// only signals have it.
    Cluster,
}

impl AreaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AreaKind::Grid => "grid",
            AreaKind::Division => "division",
            AreaKind::Hex => "hex",
            AreaKind::Cluster => "cluster",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "grid" => Some(AreaKind::Grid),
            "division" => Some(AreaKind::Division),
            "hex" => Some(AreaKind::Hex),
            "cluster" => Some(AreaKind::Cluster),
            _ => None,
        }
    }
}

/// One day's count of a category in a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AreaDay {
    pub kind: AreaKind,
    pub area_id: i64,
    pub category_id: i64,
    pub day: i64,
}

/// A signal as found by a scan or the counter.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSignal {
    pub kind: SignalKind,
    pub signature: String,
    pub score: f64,
    pub title: String,
    pub explanation: String,
    /// The title and explanation in English; empty for signals found before they were written.
    pub title_en: String,
    pub explanation_en: String,
    pub category_id: Option<i64>,
    pub area: Option<(AreaKind, i64)>,
    pub word: Option<String>,
    pub day_from: i64,
    pub day_to: i64,
    pub cases: Vec<CaseId>,
    pub case_count: i64,
}

/// A stored signal.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRow {
    pub id: i64,
    pub signal: NewSignal,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SIGNAL_COLUMNS: &str = "id, kind, signature, score, title, explanation, title_en, explanation_en, category_id, \
     area_kind, area_id, word, day_from, day_to, cases, case_count, state, created_at, updated_at";

fn signal_from_row(r: &AnyRow) -> Result<SignalRow> {
    let kind: String = r.try_get("kind")?;
    let area_kind: Option<String> = r.try_get("area_kind")?;
    let area_id: Option<i64> = r.try_get("area_id")?;
    let cases: String = r.try_get("cases")?;
    Ok(SignalRow {
        id: r.try_get("id")?,
        signal: NewSignal {
            kind: SignalKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("signal kind `{kind}`")))?,
            signature: r.try_get("signature")?,
            score: r.try_get("score")?,
            title: r.try_get("title")?,
            explanation: r.try_get("explanation")?,
            title_en: r.try_get::<Option<String>, _>("title_en")?.unwrap_or_default(),
            explanation_en: r.try_get::<Option<String>, _>("explanation_en")?.unwrap_or_default(),
            category_id: r.try_get("category_id")?,
            area: area_kind.as_deref().and_then(AreaKind::parse).zip(area_id),
            word: r.try_get("word")?,
            day_from: r.try_get("day_from")?,
            day_to: r.try_get("day_to")?,
            cases: serde_json::from_str::<Vec<i64>>(&cases).unwrap_or_default().into_iter().map(CaseId).collect(),
            case_count: r.try_get("case_count")?,
        },
        state: r.try_get("state")?,
        created_at: from_ms(r.try_get("created_at")?),
        updated_at: from_ms(r.try_get("updated_at")?),
    })
}

/// The columns a new signal is written with, in the order of [`signal_args`].
pub(crate) const SIGNAL_INSERT_COLUMNS: &str = "kind, signature, score, title, explanation, title_en, explanation_en, \
     category_id, area_kind, area_id, word, day_from, day_to, cases, case_count, state, created_at, updated_at";

/// The values of a new signal, in the order of [`SIGNAL_INSERT_COLUMNS`].
pub(crate) fn signal_args(s: &NewSignal, at: DateTime<Utc>) -> Vec<Arg> {
    let ids: Vec<i64> = s.cases.iter().map(|c| c.0).collect();
    vec![
        Arg::from(s.kind.as_str()),
        s.signature.clone().into(),
        s.score.into(),
        s.title.clone().into(),
        s.explanation.clone().into(),
        s.title_en.clone().into(),
        s.explanation_en.clone().into(),
        s.category_id.into(),
        s.area.map(|a| a.0.as_str().to_string()).into(),
        s.area.map(|a| a.1).into(),
        s.word.clone().into(),
        s.day_from.into(),
        s.day_to.into(),
        serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()).into(),
        s.case_count.into(),
        "open".into(),
        ms(at).into(),
        ms(at).into(),
    ]
}

pub(crate) fn signal_values(s: &NewSignal, at: DateTime<Utc>) -> Sql {
    let mut sql = Sql::new(&format!("insert into signals ({SIGNAL_INSERT_COLUMNS}) values "));
    sql.bind_list(signal_args(s, at));
    sql
}

impl Store {
    /// Category, place and text of cases.
    pub async fn case_places(&self, cases: &[CaseId]) -> Result<Vec<CasePlace>> {
        let mut out = Vec::with_capacity(cases.len());
        for chunk in cases.chunks(400) {
            let mut sql = Sql::new(
                "select id, channel, category_id, grid_id, division_id, lat, lon, title, description from cases where id in ",
            );
            sql.bind_list(chunk.iter().map(|c| c.0));
            let places = self
                .fetch_decoded(sql, |r| {
                    Ok(CasePlace {
                        id: CaseId(r.int("id")?),
                        channel: r.text("channel")?,
                        category_id: r.opt_int("category_id")?.map(CategoryId),
                        grid_id: r.opt_int("grid_id")?.map(GridId),
                        division_id: r.opt_int("division_id")?.map(DivisionId),
                        location: r.opt_real("lat")?.zip(r.opt_real("lon")?),
                        text: format!("{}\n{}", r.text("title")?, r.text("description")?),
                    })
                })
                .await?;
            out.extend(places);
        }
        Ok(out)
    }

    /// The daily counts of one kind of place over the days `from..to` (yyyymmdd).
    pub async fn area_counts(&self, kind: AreaKind, from: i64, to: i64) -> Result<Vec<(AreaDay, i64)>> {
        let mut sql = Sql::new("select area_id, category_id, day, n from area_counts where area_kind = ");
        sql.bind(kind.as_str()).push(" and day >= ").bind(from).push(" and day < ").bind(to);
        let rows = self
            .fetch_decoded(sql, |r| Ok((r.int("area_id")?, r.int("category_id")?, r.int("day")?, r.int("n")?)))
            .await?;
        Ok(rows
            .into_iter()
            .map(|(area_id, category_id, day, n)| (AreaDay { kind, area_id, category_id, day }, n))
            .collect())
    }

    /// The newest cases between two times with their words and who reported them, for the hot problems.
    pub async fn case_texts(&self, from: DateTime<Utc>, to: DateTime<Utc>, limit: i64) -> Result<Vec<CaseText>> {
        let rows = sqlx::query(
            "select id, title, description, category_id, contact_phone, reporter_id, created_at from cases \
             where created_at >= $1 and created_at < $2 order by created_at desc limit $3",
        )
        .bind(ms(from))
        .bind(ms(to))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let phone: Option<String> = r.try_get("contact_phone")?;
                let phone = phone.map(|p| self.contacts.open("contact_phone", &p)).transpose()?;
                let reporter: Option<i64> = r.try_get("reporter_id")?;
                Ok(CaseText {
                    id: CaseId(r.try_get("id")?),
                    title: r.try_get("title")?,
                    description: r.try_get("description")?,
                    category_id: r.try_get("category_id")?,
                    person: match (phone.filter(|p| !p.is_empty()), reporter) {
                        (Some(phone), _) => format!("phone:{phone}"),
                        (None, Some(user)) => format!("user:{user}"),
                        (None, None) => String::new(),
                    },
                    created_at: from_ms(r.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// Votes for and against imported messages (kept with their report record), by case.
    pub async fn imported_votes(&self, cases: &[CaseId]) -> Result<HashMap<CaseId, i64>> {
        let mut out = HashMap::new();
        for chunk in cases.chunks(400) {
            let mut sql = Sql::new("select case_id, data from flow where kind = 'report' and case_id in ");
            sql.bind_list(chunk.iter().map(|c| c.0));
            for r in sql.query().fetch_all(self.reader()).await? {
                let data: String = r.try_get("data")?;
                let data: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
                let extra = &data["import"]["extra"];
                let votes = ["votes_up", "votes_down"].iter().filter_map(|k| extra[*k].as_i64()).sum::<i64>();
                if votes > 0 {
                    out.insert(CaseId(r.try_get("case_id")?), votes);
                }
            }
        }
        Ok(out)
    }

    /// The newest cases of a category in places (grids or divisions) between two times.
    pub async fn cases_in_places(
        &self,
        kind: AreaKind,
        places: &[i64],
        category: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<(i64, Vec<CaseId>)> {
        let column = if kind == AreaKind::Grid { "grid_id" } else { "division_id" };
        let filtered = |select: &str| {
            let mut sql = Sql::new(select);
            sql.push(&format!(" from cases where {column} in "))
                .bind_list(places.iter().copied())
                .push(" and category_id = ")
                .bind(category)
                .push(" and created_at >= ")
                .bind(ms(from))
                .push(" and created_at < ")
                .bind(ms(to));
            sql
        };
        let total: i64 = filtered("select count(*)").query().fetch_one(self.reader()).await?.try_get(0)?;
        let mut sql = filtered("select id");
        sql.push(" order by created_at desc limit ").bind(limit);
        let ids = sql
            .query()
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|r| r.try_get(0).map(CaseId))
            .collect::<Result<_, _>>()?;
        Ok((total, ids))
    }

    /// The located cases of a category created between two times, newest first: id, lat, lon.
    pub async fn located_cases(
        &self,
        category: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(CaseId, f64, f64)>> {
        // Hundreds of thousands of rows in a large city's week: read as the counter reads.
        let mut sql = Sql::new("select id, lat, lon from cases where category_id = ");
        sql.bind(category).push(" and created_at >= ").bind(ms(from)).push(" and created_at < ").bind(ms(to));
        sql.push(" and lat is not null and lon is not null order by created_at desc limit ").bind(limit);
        self.fetch_decoded(sql, |r| {
            let located = r.opt_real("lat")?.zip(r.opt_real("lon")?);
            let (lat, lon) = located.ok_or_else(|| StoreError::Corrupt("a located case without a place".into()))?;
            Ok((CaseId(r.int("id")?), lat, lon))
        })
        .await
    }

    /// The signature of the newest signal starting with `stem` (its kind, place and category) whose
    /// window overlaps `from..=to` (yyyymmdd): the same episode, still going on. (A scan as of a past day
    /// does not take over a later episode.)
    pub async fn ongoing_signal(&self, stem: &str, from: i64, to: i64) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "select signature from signals where signature like $1 and day_to >= $2 and day_from <= $3 \
             order by id desc limit 1",
        )
        .bind(format!("{stem}%"))
        .bind(from)
        .bind(to)
        .fetch_optional(self.writer())
        .await?)
    }

    /// The hot problems whose window overlaps `from..=to`, with their cases: (signature, case ids).
    pub async fn ongoing_hot_problems(&self, from: i64, to: i64) -> Result<Vec<(String, Vec<i64>)>> {
        // `+id`: found through the window's index, not by walking every signal newest first.
        let rows = sqlx::query(
            "select signature, cases from signals where signature like 'concentrated:text:%' \
             and day_to >= $1 and day_from <= $2 order by +id desc limit 500",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.writer())
        .await?;
        rows.iter()
            .map(|r| {
                let cases: String = r.try_get("cases")?;
                Ok((r.try_get("signature")?, serde_json::from_str(&cases).unwrap_or_default()))
            })
            .collect()
    }

    /// Moves a signal from one state to another, unless someone moved it first. Returns whether it moved.
    pub async fn claim_signal_state(&self, id: i64, from: &str, to: &str, at: DateTime<Utc>) -> Result<bool> {
        let moved = sqlx::query("update signals set state = $1, updated_at = $2 where id = $3 and state = $4")
            .bind(to)
            .bind(ms(at))
            .bind(id)
            .bind(from)
            .execute(self.writer())
            .await?;
        Ok(moved.rows_affected() == 1)
    }

    /// Stores a signal, or refreshes the one with the same signature (keeping its state). Returns the
    /// id and whether it is new.
    pub async fn upsert_signal(&self, s: &NewSignal, at: DateTime<Utc>) -> Result<(i64, bool)> {
        let existing: Option<i64> = sqlx::query_scalar("select id from signals where signature = $1")
            .bind(s.signature.clone())
            .fetch_optional(self.writer())
            .await?;
        if let Some(id) = existing {
            let ids: Vec<i64> = s.cases.iter().map(|c| c.0).collect();
            sqlx::query(
                // A signal found before titles were written in English gets one with its explanation.
                "update signals set score = $1, explanation = $2, explanation_en = $3, cases = $4, case_count = $5, \
                 day_to = $6, updated_at = $7, title_en = coalesce(title_en, $8) where id = $9",
            )
            .bind(s.score)
            .bind(s.explanation.clone())
            .bind(s.explanation_en.clone())
            .bind(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()))
            .bind(s.case_count)
            .bind(s.day_to)
            .bind(ms(at))
            .bind(s.title_en.clone())
            .bind(id)
            .execute(self.writer())
            .await?;
            return Ok((id, false));
        }
        let mut sql = signal_values(s, at);
        sql.push(" on conflict (signature) do nothing returning id");
        let mut tx = self.begin_holding_id().await?;
        let inserted = sql.query().fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        match inserted {
            Some(row) => Ok((row.try_get(0)?, true)),
            // Another node stored it meanwhile.
            None => Ok((
                sqlx::query_scalar("select id from signals where signature = $1")
                    .bind(s.signature.clone())
                    .fetch_one(self.writer())
                    .await?,
                false,
            )),
        }
    }

    /// Signals, highest score first among the newest.
    pub async fn list_signals(
        &self,
        state: Option<&str>,
        kind: Option<SignalKind>,
        limit: i64,
    ) -> Result<Vec<SignalRow>> {
        let mut sql = Sql::new(&format!("select {SIGNAL_COLUMNS} from signals where 1 = 1"));
        if let Some(state) = state {
            sql.push(" and state = ").bind(state);
        }
        if let Some(kind) = kind {
            sql.push(" and kind = ").bind(kind.as_str());
        }
        sql.push(" order by day_to desc, score desc, id desc limit ").bind(limit);
        sql.query().fetch_all(self.reader()).await?.iter().map(signal_from_row).collect()
    }

    /// Signals stored after `cursor`, oldest first.
    pub async fn signals_after(&self, cursor: i64, limit: i64) -> Result<Vec<SignalRow>> {
        let rows = sqlx::query(&format!("select {SIGNAL_COLUMNS} from signals where id > $1 order by id limit $2"))
            .bind(cursor)
            .bind(limit)
            .fetch_all(self.writer())
            .await?;
        rows.iter().map(signal_from_row).collect()
    }

    pub async fn get_signal(&self, id: i64) -> Result<SignalRow> {
        let row = sqlx::query(&format!("select {SIGNAL_COLUMNS} from signals where id = $1"))
            .bind(id)
            .fetch_one(self.reader())
            .await?;
        signal_from_row(&row)
    }
}
