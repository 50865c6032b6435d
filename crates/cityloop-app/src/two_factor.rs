//! Two-step sign-in: a time-based one-time password (RFC 6238: the six-digit codes of any
//! authenticator app) that each user may add to their password, and an administrator may remove when
//! a phone is lost.

use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::admin::require_admin;
use crate::error::{AppError, Result};
use crate::scope::Principal;
use crate::App;

/// Seconds each code is good for.
const STEP_SECONDS: u64 = 30;
/// The name authenticator apps show the account under.
const ISSUER: &str = "cityloop";

/// A secret being set up: shown once, to be typed or scanned into an authenticator app.
#[derive(Debug, Clone)]
pub struct TotpSetup {
    /// Base32, for typing in.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code or a link on a phone.
    pub otpauth_url: String,
}

fn generator(secret: &str, username: &str) -> Result<TOTP> {
    let bytes = Secret::Encoded(secret.to_string())
        .to_bytes()
        .map_err(|e| AppError::Internal(format!("a stored one-time password secret: {e:?}")))?;
    TOTP::new(Algorithm::SHA1, 6, 1, STEP_SECONDS, bytes, Some(ISSUER.into()), username.replace(':', "_"))
        .map_err(|e| AppError::Internal(format!("one-time passwords: {e}")))
}

/// The time step whose code `code` is — the current one, or the one before or after, for clocks
/// that differ a little.
fn matching_step(totp: &TOTP, code: &str, now: chrono::DateTime<chrono::Utc>) -> Option<i64> {
    let code = code.trim();
    let current = now.timestamp().max(0) as u64 / STEP_SECONDS;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| same_code(&totp.generate(step * STEP_SECONDS), code))
        .map(|step| step as i64)
}

/// Compares two codes in a time that does not depend on where they differ.
fn same_code(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

impl App {
    /// Checks the one-time code of a user whose password was right: `Ok` once per code.
    pub(crate) async fn check_second_factor(&self, user: &cityloop_store::UserRow, code: Option<&str>) -> Result<bool> {
        let Some(secret) = &user.totp_secret else { return Ok(true) };
        let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
            return Err(AppError::SecondFactorRequired(
                "this account signs in with a one-time code too: send `code` from the authenticator app \
                 (请输入动态验证码)"
                    .into(),
            ));
        };
        let Some(step) = matching_step(&generator(secret, &user.username)?, code, self.now()) else {
            return Ok(false);
        };
        // A code is good once, so that one seen over a shoulder or in a log cannot be used again.
        Ok(self.store.take_totp_step(user.id, step).await?)
    }

    /// A code typed to change two-step sign-in: a wrong one counts towards the sign-in lockout, so
    /// that a stolen session cannot guess its way through the million codes.
    async fn code_checked(&self, user: &cityloop_store::UserRow, right: bool) -> Result<()> {
        self.secret_checked(user, right, AppError::invalid("code", "does not match the code the app shows")).await
    }

    /// As [`Self::code_checked`], for any secret the user is asked for; `wrong` is the answer when
    /// it does not match and the account is not locked yet.
    pub(crate) async fn secret_checked(
        &self,
        user: &cityloop_store::UserRow,
        right: bool,
        wrong: AppError,
    ) -> Result<()> {
        self.refuse_if_locked(&user.username).await?;
        if right {
            return Ok(());
        }
        Err(self.count_failure(&user.username, wrong).await?)
    }

    /// Starts setting up two-step sign-in for the caller, who gives their password again: a new
    /// secret, kept until a code from it is confirmed with [`App::confirm_totp`]. Asking for the
    /// password keeps someone holding only a session (a borrowed computer, a stolen token) from
    /// putting their own phone on the account and locking its owner out.
    pub async fn set_up_totp(&self, who: &Principal, password: &str) -> Result<TotpSetup> {
        let user = self.store.get_user(who.user.id).await?;
        let right = crate::auth::verify_password(&user.password_hash, password);
        self.secret_checked(&user, right, AppError::invalid("password", "is not the account's password")).await?;
        if user.totp_secret.is_some() {
            return Err(AppError::Duplicate("two-step sign-in is on already: turn it off first".into()));
        }
        let mut bytes = [0u8; 20];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret = Secret::Raw(bytes.to_vec()).to_encoded().to_string();
        self.store.set_totp_pending(user.id, &secret).await?;
        let otpauth_url = otpauth_url(&secret, &user.username)?;
        Ok(TotpSetup { secret, otpauth_url })
    }

    /// Turns two-step sign-in on with a code from the secret being set up. Every other sign-in of the
    /// user ends (they were made with the password alone); `current_token`, the one in use, goes on.
    pub async fn confirm_totp(&self, who: &Principal, code: &str, current_token: Option<&str>) -> Result<()> {
        let user = self.store.get_user(who.user.id).await?;
        let secret = user
            .totp_pending
            .clone()
            .ok_or_else(|| AppError::invalid("code", "nothing is being set up: ask for a secret first"))?;
        let step = matching_step(&generator(&secret, &user.username)?, code, self.now());
        self.code_checked(&user, step.is_some()).await?;
        let step = step.unwrap_or_default();
        if !self.store.confirm_totp(user.id, &secret, step).await? {
            return Err(AppError::invalid("code", "the secret being set up changed meanwhile: start again"));
        }
        let keep = current_token.map(crate::auth::token_hash);
        self.store.revoke_sign_ins(user.id, keep.as_deref(), self.now()).await?;
        self.sessions.forget_user(user.id);
        Ok(())
    }

    /// Turns the caller's two-step sign-in off, with a current code.
    pub async fn turn_off_totp(&self, who: &Principal, code: &str) -> Result<()> {
        let user = self.store.get_user(who.user.id).await?;
        if user.totp_secret.is_none() {
            return Ok(());
        }
        let right = self.check_second_factor(&user, Some(code)).await?;
        self.code_checked(&user, right).await?;
        self.store.clear_totp(user.id).await?;
        self.sessions.forget_user(user.id);
        Ok(())
    }

    /// Removes a user's two-step sign-in (a lost phone) and ends their sign-ins; administrators only.
    pub async fn reset_totp(&self, who: &Principal, username: &str) -> Result<()> {
        require_admin(Some(who))?;
        let user = self
            .store
            .user_by_username(username.trim())
            .await?
            .ok_or_else(|| AppError::NotFound(format!("user `{}`", username.trim())))?;
        self.store.clear_totp(user.id).await?;
        self.store.revoke_sign_ins(user.id, None, self.now()).await?;
        self.sessions.forget_user(user.id);
        Ok(())
    }
}

/// The `otpauth://` address of a secret, for a QR code or a link on a phone.
pub fn otpauth_url(secret: &str, username: &str) -> Result<String> {
    Ok(generator(secret, username)?.get_url())
}

/// The code an authenticator app shows now for `secret` (for tests and tools).
pub fn current_code(secret: &str, now: chrono::DateTime<chrono::Utc>) -> Result<String> {
    Ok(generator(secret, "x")?.generate(now.timestamp().max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_those_of_rfc_6238_and_match_their_step_and_its_neighbours() {
        // RFC 6238, appendix B: the SHA-1 secret "12345678901234567890" at 59 s gives 94287082 (8
        // digits); the last six are what a six-digit app shows.
        let secret = Secret::Raw(b"12345678901234567890".to_vec()).to_encoded().to_string();
        let totp = generator(&secret, "operator").unwrap();
        assert_eq!(totp.generate(59), "287082");
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap();
        assert_eq!(matching_step(&totp, "287082", at(59)), Some(1));
        assert_eq!(matching_step(&totp, " 287082 ", at(89)), Some(1), "the step before");
        assert_eq!(matching_step(&totp, "287082", at(150)), None, "too old");
        assert_eq!(matching_step(&totp, "000000", at(59)), None);
        assert!(totp.get_url().starts_with("otpauth://totp/cityloop:operator?secret="));
    }
}
