//! Passwords (argon2id) and bearer tokens (random, stored only as SHA-256 hashes, expiring, revocable).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use cityloop_domain::Role;

use crate::error::{AppError, Result};
use crate::scope::Principal;
use crate::App;

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("hashing a password: {e}")))
}

/// Checks a password against a PHC string.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Checks a new password is acceptable.
pub fn check_new_password(password: &str) -> Result<()> {
    // Spaces around a password are counted by no one who remembers it: eight spaces are no password.
    if password.trim().chars().count() < MIN_PASSWORD_LEN {
        return Err(AppError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters, not counting spaces at either end"),
        ));
    }
    Ok(())
}

/// Longest life of an API token.
pub const MAX_API_TOKEN_DAYS: i64 = 730;

/// An API token as issued: the token is shown this once.
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: String,
    pub token: String,
    pub username: String,
    pub label: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub export_filter: Option<String>,
}

/// The public id of an API token: the start of its hash (the hash reveals nothing of the token).
fn api_token_id(hash: &str) -> String {
    format!("tok_{}", &hash[..hash.len().min(16)])
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// How long a node trusts a token it has checked before asking the database again. A token revoked
/// on another node stops working there within this time; on this node at once.
const SESSION_CACHE_SECONDS: i64 = 10;
/// Entries kept before the cache is emptied (a bound, not a tuning knob).
const SESSION_CACHE_MAX: usize = 10_000;

/// Principals of recently checked tokens, by token hash.
#[derive(Default)]
pub struct SessionCache(Mutex<HashMap<String, CachedSession>>);

/// A checked token: its principal, when it was checked, when the token expires.
type CachedSession = (Principal, DateTime<Utc>, DateTime<Utc>);

impl SessionCache {
    fn get(&self, hash: &str, now: DateTime<Utc>) -> Option<Principal> {
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (principal, checked_at, expires_at) = map.get(hash)?;
        (now < *expires_at && now < *checked_at + Duration::seconds(SESSION_CACHE_SECONDS) && now >= *checked_at)
            .then(|| principal.clone())
    }

    fn put(&self, hash: String, principal: Principal, now: DateTime<Utc>, expires_at: DateTime<Utc>) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= SESSION_CACHE_MAX {
            map.clear();
        }
        map.insert(hash, (principal, now, expires_at));
    }

    fn forget(&self, hash: &str) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(hash);
    }

    /// Forgets every checked token of one user (their second factor changed).
    pub fn forget_user(&self, user: cityloop_domain::UserId) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|_, (p, _, _)| p.user.id != user);
    }

    /// Forgets everything (after reference data changed, scopes may have too).
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct Login {
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub principal: Principal,
}

/// A hash to verify against when the user does not exist, so that the answer takes as long either way.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$W7Rg0pDWnBS9u0U4gbTX4VOkOHfLa3b2yC1CzcDXyCY";

impl App {
    /// Checks a username and password and issues a token.
    /// After `max_failed_logins` failures within `lockout_minutes` the username is locked for
    /// `lockout_minutes`, whatever password comes (on every node: the count is in the database).
    pub async fn login(&self, username: &str, password: &str) -> Result<Login> {
        self.login_with_code(username, password, None).await
    }

    /// As [`App::login`], with the one-time code of an account that has two-step sign-in on (a
    /// missing code is [`AppError::SecondFactorRequired`]; a wrong one counts as a failed login).
    pub async fn login_with_code(&self, username: &str, password: &str, code: Option<&str>) -> Result<Login> {
        let username = username.trim();
        let now = self.now();
        let failures = self.refuse_if_locked(username).await?;
        let user = self.store.user_by_username(username).await?;
        let checked = match &user {
            Some(user) => verify_password(&user.password_hash, password) && user.active,
            None => {
                // As long as a real check, so that timing tells nothing about which usernames exist.
                let _ = verify_password(DUMMY_HASH, password);
                false
            }
        };
        let second_factor = match &user {
            Some(user) if checked => self.check_second_factor(user, code).await?,
            _ => true,
        };
        let Some(user) = user.filter(|_| checked && second_factor) else {
            let wrong = if second_factor {
                AppError::Unauthorized("wrong username or password".into())
            } else {
                AppError::Unauthorized("wrong one-time code (动态验证码不正确)".into())
            };
            return Err(self.count_failure(username, wrong).await?);
        };
        if failures.is_some() {
            self.store.clear_login_failures(username).await?;
        }
        if user.roles.contains(&Role::Recipient) {
            // Its scope and expiry are those of the tokens it is issued; a password would bypass them.
            return Err(AppError::Forbidden(
                "a data recipient uses the API token an administrator issued it (数据使用方请使用管理员发放的令牌)"
                    .into(),
            ));
        }
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        let expires_at = now + Duration::hours(self.settings.token_ttl_hours);
        self.store.insert_token(&token_hash(&token), user.id, now, expires_at).await?;
        let principal = Principal::new(user, &self.reference());
        Ok(Login { token, expires_at, principal })
    }

    /// The failed sign-ins recorded under `username`; the lock's answer while it is locked.
    pub(crate) async fn refuse_if_locked(&self, username: &str) -> Result<Option<cityloop_store::LoginFailures>> {
        let failures = self.store.login_failures(username).await?;
        if let Some(until) = failures.as_ref().and_then(|f| f.locked_until).filter(|until| *until > self.now()) {
            return Err(self.locked(until));
        }
        Ok(failures)
    }

    /// Counts a wrong password or code given under `username` towards the lockout: the answer is the
    /// lock when this failure brings it on, `wrong` otherwise.
    pub(crate) async fn count_failure(&self, username: &str, wrong: AppError) -> Result<AppError> {
        let now = self.now();
        let lockout = Duration::minutes(self.settings.lockout_minutes);
        let counted = self
            .store
            .record_login_failure(username, now, now - lockout, self.settings.max_failed_logins, now + lockout)
            .await?;
        Ok(match counted.locked_until.filter(|until| *until > now) {
            Some(until) => self.locked(until),
            None => wrong,
        })
    }

    fn locked(&self, until: DateTime<Utc>) -> AppError {
        let local = until.with_timezone(&self.reference().calendar.offset());
        AppError::TooManyAttempts {
            message: format!(
                "too many failed logins: this account is locked until {} (登录失败次数过多, 账号已锁定至 {})",
                local.format("%H:%M"),
                local.format("%H:%M")
            ),
            retry_after_seconds: (until - self.now()).num_seconds().max(1),
        }
    }

    /// The principal behind a bearer token.
    pub async fn authenticate(&self, token: &str) -> Result<Principal> {
        let hash = token_hash(token);
        let now = self.now();
        if let Some(p) = self.sessions.get(&hash, now) {
            return Ok(p);
        }
        let row = self.store.token(&hash).await?.ok_or_else(|| AppError::Unauthorized("unknown token".into()))?;
        if row.revoked {
            return Err(AppError::Unauthorized("the token was revoked; log in again".into()));
        }
        if row.expires_at <= now {
            return Err(AppError::Unauthorized("the token has expired; log in again".into()));
        }
        let user = self.store.get_user(row.user_id).await?;
        if !user.active {
            return Err(AppError::Unauthorized("the account is disabled".into()));
        }
        let principal = Principal { export_filter: row.export_filter, ..Principal::new(user, &self.reference()) };
        self.sessions.put(hash, principal.clone(), now, row.expires_at);
        Ok(principal)
    }

    /// Issues a long-lived token for another system acting as a user (a department's case system acting
    /// as that unit's handler account), shown once; admins only. Lives `days` days (1 to 730). With an
    /// `export_filter` (a case-list query string) it is a data recipient's token: it may only export
    /// the cases of that filter within the account's scope, without residents' contact data.
    pub async fn create_api_token(
        &self,
        who: &Principal,
        username: &str,
        label: &str,
        days: i64,
        export_filter: Option<&str>,
    ) -> Result<ApiToken> {
        crate::admin::require_admin(Some(who))?;
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 100 {
            return Err(AppError::invalid("name", "must be 1 to 100 characters"));
        }
        if !(1..=MAX_API_TOKEN_DAYS).contains(&days) {
            return Err(AppError::invalid("days", format!("must be 1 to {MAX_API_TOKEN_DAYS}")));
        }
        let user = self
            .store
            .user_by_username(username.trim())
            .await?
            .filter(|u| u.active)
            .ok_or_else(|| AppError::invalid("username", format!("no active user `{}`", username.trim())))?;
        let export_filter = export_filter.map(str::trim).map(|f| f.trim_start_matches('?'));
        if let Some(filter) = export_filter {
            self.check_export_filter(&Principal::new(user.clone(), &self.reference()), filter)?;
        }
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let token = format!("cl_{}", hex::encode(bytes));
        let now = self.now();
        let expires_at = now + Duration::days(days);
        let hash = token_hash(&token);
        self.store.insert_api_token(&hash, user.id, label, now, expires_at, export_filter).await?;
        Ok(ApiToken {
            id: api_token_id(&hash),
            token,
            username: user.username,
            label: label.to_string(),
            expires_at,
            export_filter: export_filter.map(str::to_string),
        })
    }

    /// The API tokens, without the tokens themselves; admins only.
    pub async fn api_tokens(&self, who: &Principal) -> Result<Vec<(String, cityloop_store::ApiTokenRow)>> {
        crate::admin::require_admin(Some(who))?;
        Ok(self.store.list_api_tokens().await?.into_iter().map(|t| (api_token_id(&t.token_hash), t)).collect())
    }

    /// Revokes an API token by its id; admins only. Takes effect at once on this node, within the
    /// session cache's seconds on the others.
    pub async fn revoke_api_token(&self, who: &Principal, id: &str) -> Result<()> {
        crate::admin::require_admin(Some(who))?;
        let token = self
            .store
            .list_api_tokens()
            .await?
            .into_iter()
            .find(|t| api_token_id(&t.token_hash) == id)
            .ok_or_else(|| AppError::NotFound(format!("API token `{id}`")))?;
        // Revoked already (by its holder signing out, or twice): what was asked for holds.
        if token.revoked_at.is_some() {
            return Ok(());
        }
        self.sessions.forget(&token.token_hash);
        self.store.revoke_token(&token.token_hash, self.now()).await?;
        Ok(())
    }

    /// Revokes a token.
    pub async fn logout(&self, token: &str) -> Result<()> {
        let hash = token_hash(token);
        self.sessions.forget(&hash);
        self.store.revoke_token(&hash, self.now()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("cityloop-demo").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "cityloop-demo"));
        assert!(!verify_password(&h, "cityloop-dem0"));
        assert!(!verify_password("not a hash", "x"));
        assert!(!verify_password(DUMMY_HASH, "cityloop-demo"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("long enough").is_ok());
    }
}
