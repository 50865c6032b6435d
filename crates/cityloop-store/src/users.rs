//! Users, their grids, and API tokens (stored as SHA-256 hashes, never in clear).

use chrono::{DateTime, Utc};
use cityloop_domain::{GridId, Role, UnitId, UserId};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::rows::{from_ms, ms};
use crate::{Result, Store};

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub unit_id: Option<UnitId>,
    pub grids: Vec<GridId>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    /// The second factor's secret (base32) once confirmed: sign-in then needs a one-time code.
    #[serde(skip)]
    pub totp_secret: Option<String>,
    /// A secret being set up, until a code from it is confirmed.
    #[serde(skip)]
    pub totp_pending: Option<String>,
    /// The last time step whose code was accepted.
    #[serde(skip)]
    pub totp_last_step: Option<i64>,
}

/// An API token as administrators see it (never the token itself).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiTokenRow {
    pub token_hash: String,
    pub username: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// A data recipient's token: the filter its exports are held to.
    pub export_filter: Option<String>,
}

/// A token as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    pub user_id: UserId,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
    /// A data recipient's token: the filter its exports are held to.
    pub export_filter: Option<String>,
}

fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

fn user_from_row(r: &AnyRow) -> Result<UserRow> {
    let roles: String = r.try_get("roles")?;
    Ok(UserRow {
        id: UserId(r.try_get("id")?),
        username: r.try_get("username")?,
        name: r.try_get("name")?,
        password_hash: r.try_get("password_hash")?,
        roles: roles.split(',').filter_map(Role::parse).collect(),
        unit_id: r.try_get::<Option<i64>, _>("unit_id")?.map(UnitId),
        grids: Vec::new(),
        active: r.try_get::<i64, _>("active")? != 0,
        created_at: from_ms(r.try_get("created_at")?),
        totp_secret: r.try_get("totp_secret")?,
        totp_pending: r.try_get("totp_pending")?,
        totp_last_step: r.try_get("totp_last_step")?,
    })
}

const USER_COLUMNS: &str =
    "id, username, name, password_hash, roles, unit_id, active, created_at, totp_secret, totp_pending, totp_last_step";

impl Store {
    /// Adds a user with their grids, in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_user(
        &self,
        username: &str,
        name: &str,
        password_hash: &str,
        roles: &[Role],
        unit: Option<UnitId>,
        grids: &[GridId],
        now: DateTime<Utc>,
    ) -> Result<UserId> {
        let mut tx = self.writer().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "insert into users (username, name, password_hash, roles, unit_id, active, created_at) \
             values ($1, $2, $3, $4, $5, 1, $6) returning id",
        )
        .bind(username)
        .bind(name)
        .bind(password_hash)
        .bind(roles_text(roles))
        .bind(unit.map(|u| u.0))
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        for g in grids {
            sqlx::query("insert into user_grids (user_id, grid_id) values ($1, $2)")
                .bind(id)
                .bind(g.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(UserId(id))
    }

    /// Changes an account's name, roles, unit and grids.
    pub async fn update_user(
        &self,
        id: UserId,
        name: &str,
        roles: &[Role],
        unit: Option<UnitId>,
        grids: &[GridId],
    ) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        let done = sqlx::query("update users set name = $1, roles = $2, unit_id = $3 where id = $4")
            .bind(name)
            .bind(roles_text(roles))
            .bind(unit.map(|u| u.0))
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(crate::StoreError::NotFound);
        }
        sqlx::query("delete from user_grids where user_id = $1").bind(id.0).execute(&mut *tx).await?;
        for g in grids {
            sqlx::query("insert into user_grids (user_id, grid_id) values ($1, $2)")
                .bind(id.0)
                .bind(g.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn with_grids(&self, mut user: UserRow) -> Result<UserRow> {
        let grids: Vec<i64> = sqlx::query_scalar("select grid_id from user_grids where user_id = $1 order by grid_id")
            .bind(user.id.0)
            .fetch_all(self.reader())
            .await?;
        user.grids = grids.into_iter().map(GridId).collect();
        Ok(user)
    }

    /// A user by login name.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>> {
        let row = sqlx::query(&format!("select {USER_COLUMNS} from users where username = $1"))
            .bind(username)
            .fetch_optional(self.reader())
            .await?;
        match row {
            Some(r) => Ok(Some(self.with_grids(user_from_row(&r)?).await?)),
            None => Ok(None),
        }
    }

    /// The login name of a user whose name differs from `username` at most in the case of its Latin
    /// letters (`Admin` for `admin`).
    pub async fn username_like(&self, username: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("select username from users where lower(username) = lower($1)")
            .bind(username)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(|r| r.0))
    }

    /// A user by id.
    pub async fn get_user(&self, id: UserId) -> Result<UserRow> {
        let row = sqlx::query(&format!("select {USER_COLUMNS} from users where id = $1"))
            .bind(id.0)
            .fetch_one(self.reader())
            .await?;
        self.with_grids(user_from_row(&row)?).await
    }

    /// All users, by id, with their grids.
    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let rows =
            sqlx::query(&format!("select {USER_COLUMNS} from users order by id")).fetch_all(self.reader()).await?;
        let mut users = rows.iter().map(user_from_row).collect::<Result<Vec<_>>>()?;
        let links = sqlx::query("select user_id, grid_id from user_grids order by user_id, grid_id")
            .fetch_all(self.reader())
            .await?;
        let mut grids: std::collections::HashMap<i64, Vec<GridId>> = std::collections::HashMap::new();
        for link in &links {
            grids.entry(link.try_get(0)?).or_default().push(GridId(link.try_get(1)?));
        }
        for u in &mut users {
            u.grids = grids.remove(&u.id.0).unwrap_or_default();
        }
        Ok(users)
    }

    /// Whether an active account of `unit` holds `role`.
    pub async fn unit_has_active(&self, unit: UnitId, role: Role) -> Result<bool> {
        let rows = sqlx::query("select roles from users where unit_id = $1 and active = 1")
            .bind(unit.0)
            .fetch_all(self.reader())
            .await?;
        for row in &rows {
            let roles: String = row.try_get(0)?;
            if roles.split(',').filter_map(Role::parse).any(|r| r == role) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Stores a new token.
    pub async fn insert_token(
        &self,
        token_hash: &str,
        user: UserId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("insert into tokens (token_hash, user_id, created_at, expires_at) values ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user.0)
            .bind(ms(now))
            .bind(ms(expires_at))
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Stores a labelled, long-lived token for another system (an API token).
    pub async fn insert_api_token(
        &self,
        token_hash: &str,
        user: UserId,
        label: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        export_filter: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "insert into tokens (token_hash, user_id, created_at, expires_at, label, export_filter) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(user.0)
        .bind(ms(now))
        .bind(ms(expires_at))
        .bind(label)
        .bind(export_filter)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Every API token: (hash, user, label, created, expires, revoked), newest first.
    pub async fn list_api_tokens(&self) -> Result<Vec<ApiTokenRow>> {
        let rows = sqlx::query(
            "select t.token_hash, u.username, t.label, t.created_at, t.expires_at, t.revoked_at, t.export_filter \
             from tokens t \
             join users u on u.id = t.user_id where t.label is not null order by t.created_at desc",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiTokenRow {
                    token_hash: r.try_get(0)?,
                    username: r.try_get(1)?,
                    label: r.try_get(2)?,
                    created_at: from_ms(r.try_get(3)?),
                    expires_at: from_ms(r.try_get(4)?),
                    revoked_at: r.try_get::<Option<i64>, _>(5)?.map(from_ms),
                    export_filter: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// Looks a token up by its hash.
    pub async fn token(&self, token_hash: &str) -> Result<Option<TokenRow>> {
        let row =
            sqlx::query("select user_id, expires_at, revoked_at, export_filter from tokens where token_hash = $1")
                .bind(token_hash)
                .fetch_optional(self.reader())
                .await?;
        row.map(|r| {
            Ok(TokenRow {
                user_id: UserId(r.try_get("user_id")?),
                expires_at: from_ms(r.try_get("expires_at")?),
                revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                export_filter: r.try_get("export_filter")?,
            })
        })
        .transpose()
    }

    /// Keeps a second-factor secret being set up for a user (replacing any earlier one not confirmed).
    pub async fn set_totp_pending(&self, user: UserId, secret: &str) -> Result<()> {
        sqlx::query("update users set totp_pending = $1 where id = $2")
            .bind(secret)
            .bind(user.0)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Makes the pending secret the user's second factor, `step` being the time step of the code that
    /// confirmed it; `false` when the pending secret changed meanwhile.
    pub async fn confirm_totp(&self, user: UserId, secret: &str, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "update users set totp_secret = totp_pending, totp_pending = null, totp_last_step = $1 \
             where id = $2 and totp_pending = $3 and totp_secret is null",
        )
        .bind(step)
        .bind(user.0)
        .bind(secret)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Takes the code of time step `step` for the user's second factor: `false` when that step or a
    /// later one was taken already (a code is good once).
    pub async fn take_totp_step(&self, user: UserId, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "update users set totp_last_step = $1 where id = $2 and totp_secret is not null \
             and (totp_last_step is null or totp_last_step < $1)",
        )
        .bind(step)
        .bind(user.0)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends the user's sign-ins (not the API tokens issued for systems), all but `keep` (a token hash);
    /// the hashes ended.
    pub async fn revoke_sign_ins(&self, user: UserId, keep: Option<&str>, now: DateTime<Utc>) -> Result<Vec<String>> {
        let ended: Vec<(String,)> = sqlx::query_as(
            "update tokens set revoked_at = $1 where user_id = $2 and label is null and revoked_at is null \
             and token_hash <> $3 returning token_hash",
        )
        .bind(ms(now))
        .bind(user.0)
        .bind(keep.unwrap_or_default().to_string())
        .fetch_all(self.writer())
        .await?;
        Ok(ended.into_iter().map(|(h,)| h).collect())
    }

    /// Replaces the user's password hash.
    pub async fn set_password_hash(&self, user: UserId, hash: &str) -> Result<()> {
        sqlx::query("update users set password_hash = $1 where id = $2")
            .bind(hash.to_string())
            .bind(user.0)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Opens or closes the user's account; a closed one signs in no more and its tokens stop working.
    pub async fn set_user_active(&self, user: UserId, active: bool) -> Result<()> {
        sqlx::query("update users set active = $1 where id = $2")
            .bind(i64::from(active))
            .bind(user.0)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Ends every token of the user, the API tokens issued for systems included (a closed account).
    pub async fn revoke_all_tokens(&self, user: UserId, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("update tokens set revoked_at = $1 where user_id = $2 and revoked_at is null")
            .bind(ms(now))
            .bind(user.0)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Turns the user's second factor off.
    pub async fn clear_totp(&self, user: UserId) -> Result<()> {
        sqlx::query("update users set totp_secret = null, totp_pending = null, totp_last_step = null where id = $1")
            .bind(user.0)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Revokes one token; `false` if there was no such live token.
    pub async fn revoke_token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query("update tokens set revoked_at = $1 where token_hash = $2 and revoked_at is null")
            .bind(ms(now))
            .bind(token_hash)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Failed logins under one username.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub failures: i64,
    pub locked_until: Option<DateTime<Utc>>,
}

impl Store {
    /// The failed logins recorded under `username`.
    pub async fn login_failures(&self, username: &str) -> Result<Option<LoginFailures>> {
        let row: Option<(i64, Option<i64>)> =
            sqlx::query_as("select failures, locked_until from login_failures where username = $1")
                .bind(username)
                .fetch_optional(self.writer())
                .await?;
        Ok(row.map(|(failures, locked)| LoginFailures { failures, locked_until: locked.map(from_ms) }))
    }

    /// Counts a failed login at `now`: failures before `window_start` are forgotten, and the `max`th
    /// failure locks the username until `lock_until`. Returns the count as it now is.
    pub async fn record_login_failure(
        &self,
        username: &str,
        now: DateTime<Utc>,
        window_start: DateTime<Utc>,
        max: i64,
        lock_until: DateTime<Utc>,
    ) -> Result<LoginFailures> {
        // One statement, so that failures on several nodes at once all count.
        let (failures, locked): (i64, Option<i64>) = sqlx::query_as(
            "insert into login_failures (username, failures, first_at, locked_until) values ($1, 1, $2, null) \
             on conflict (username) do update set \
             failures = case when login_failures.first_at < $3 then 1 else login_failures.failures + 1 end, \
             first_at = case when login_failures.first_at < $3 then $2 else login_failures.first_at end, \
             locked_until = case when login_failures.first_at >= $3 and login_failures.failures + 1 >= $4 \
             then $5 else login_failures.locked_until end \
             returning failures, locked_until",
        )
        .bind(username)
        .bind(ms(now))
        .bind(ms(window_start))
        .bind(max)
        .bind(ms(lock_until))
        .fetch_one(self.writer())
        .await?;
        Ok(LoginFailures { failures, locked_until: locked.map(from_ms) })
    }

    /// Forgets the failed logins of `username` (after a successful login).
    pub async fn clear_login_failures(&self, username: &str) -> Result<()> {
        sqlx::query("delete from login_failures where username = $1").bind(username).execute(self.writer()).await?;
        Ok(())
    }

    /// Forgets failures older than `before` whose lock, if any, has ended.
    pub async fn forget_login_failures(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(
            "delete from login_failures where first_at < $1 and (locked_until is null or locked_until < $1)",
        )
        .bind(ms(before))
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected())
    }
}
