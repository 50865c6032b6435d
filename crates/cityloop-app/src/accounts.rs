//! Looking after accounts once they exist: a user changes their own password; an administrator sets a
//! new one for someone who forgot theirs, and closes the account of someone who left (and opens it
//! again). Each change ends the sign-ins it makes stale.

use crate::admin::require_admin;
use crate::auth::{check_new_password, hash_password, token_hash, verify_password};
use crate::error::{AppError, Result};
use crate::scope::Principal;
use crate::App;

impl App {
    /// The caller changes their password, giving the current one. Their other sign-ins end (whoever
    /// knew the old password is signed out); `current_token`, the one in use, goes on.
    pub async fn change_own_password(
        &self,
        who: &Principal,
        current: &str,
        new: &str,
        current_token: Option<&str>,
    ) -> Result<()> {
        let user = self.store.get_user(who.user.id).await?;
        let right = verify_password(&user.password_hash, current);
        self.secret_checked(&user, right, AppError::invalid("current_password", "is not the account's password"))
            .await?;
        check_new_password(new).map_err(|e| rename_field(e, "new_password"))?;
        if new == current {
            return Err(AppError::invalid("new_password", "must differ from the current password"));
        }
        self.store.set_password_hash(user.id, &hash_password(new)?).await?;
        let keep = current_token.map(token_hash);
        self.store.revoke_sign_ins(user.id, keep.as_deref(), self.now()).await?;
        self.sessions.forget_user(user.id);
        Ok(())
    }

    /// Sets a new password for a user who forgot theirs and ends their sign-ins; administrators only
    /// (`None`: the server's own console, `cityloop user password`, for an administrator locked out).
    /// The user should change it at their next sign-in.
    pub async fn reset_password(&self, who: Option<&Principal>, username: &str, new: &str) -> Result<()> {
        require_admin(who)?;
        let user = self.user_named(username).await?;
        check_new_password(new)?;
        self.store.set_password_hash(user.id, &hash_password(new)?).await?;
        self.store.revoke_sign_ins(user.id, None, self.now()).await?;
        self.sessions.forget_user(user.id);
        Ok(())
    }

    /// Closes an account (someone left: they sign in no more, their sign-ins and tokens stop working)
    /// or opens it again; administrators only, and not their own account, so that a city is never
    /// left without one.
    pub async fn set_account_open(&self, who: Option<&Principal>, username: &str, open: bool) -> Result<()> {
        require_admin(who)?;
        let user = self.user_named(username).await?;
        if who.is_some_and(|w| w.user.id == user.id) && !open {
            return Err(AppError::invalid("username", "an administrator cannot close their own account"));
        }
        self.store.set_user_active(user.id, open).await?;
        if !open {
            // The API tokens issued for systems too: opening the account again (for a successor) must
            // not bring them back.
            self.store.revoke_all_tokens(user.id, self.now()).await?;
        }
        self.sessions.forget_user(user.id);
        Ok(())
    }

    async fn user_named(&self, username: &str) -> Result<cityloop_store::UserRow> {
        let username = username.trim();
        self.store.user_by_username(username).await?.ok_or_else(|| AppError::NotFound(format!("user `{username}`")))
    }
}

/// The same refusal, on the field of the form it came from.
fn rename_field(e: AppError, field: &str) -> AppError {
    match e {
        AppError::Invalid { message, .. } => AppError::Invalid { field: field.into(), message },
        e => e,
    }
}
