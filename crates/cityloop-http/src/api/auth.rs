//! `/api/v1/auth`: log in for a bearer token, log out (revoke it), and who am I.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Extension;
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset};
use cityloop_app::access::RequestWatch;
use cityloop_app::Principal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::ErrorBody;
use crate::error::{ApiError, Result};
use crate::extract::{bearer_token, ApiJson, Auth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .route("/auth/totp", post(set_up_totp))
        .route("/auth/totp/confirm", post(confirm_totp))
        .route("/auth/totp/off", post(turn_off_totp))
        .route("/users/{username}/totp", axum::routing::delete(reset_totp))
        .route("/auth/password", post(change_password))
        .route("/users/{username}/password", axum::routing::put(reset_password))
        .route("/users/{username}/active", axum::routing::put(set_active))
}

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// The one-time code of the authenticator app, for an account with two-step sign-in on.
    #[serde(default)]
    pub code: Option<String>,
}

/// A user as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub roles: Vec<String>,
    /// Unit id.
    pub unit: Option<i64>,
    pub unit_name: Option<String>,
    /// Grid codes.
    pub grids: Vec<String>,
    /// Whether sign-in asks for a one-time code too.
    pub totp: bool,
    /// Whether the account is open (a closed one cannot sign in).
    pub active: bool,
}

impl UserDto {
    pub fn new(state: &AppState, user: &cityloop_store::UserRow) -> Self {
        let reference = state.app.reference();
        Self {
            id: user.id.0,
            username: user.username.clone(),
            name: user.name.clone(),
            roles: user.roles.iter().map(|r| r.as_str().to_string()).collect(),
            unit: user.unit_id.map(|u| u.0),
            unit_name: user.unit_id.and_then(|u| reference.unit(u)).map(|u| u.name.clone()),
            grids: user.grids.iter().filter_map(|g| reference.grid(*g)).map(|g| g.code.clone()).collect(),
            totp: user.totp_secret.is_some(),
            active: user.active,
        }
    }

    fn of(state: &AppState, p: &Principal) -> Self {
        Self::new(state, &p.user)
    }
}

/// A bearer token and its user.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: DateTime<FixedOffset>,
    pub user: UserDto,
}

/// Logs in: a bearer token for `Authorization: Bearer <token>`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    watch: Option<Extension<RequestWatch>>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>> {
    let login = state.app.login_with_code(&body.username, &body.password, body.code.as_deref()).await?;
    if let Some(Extension(watch)) = watch {
        watch.signed_in(&login.principal.user);
    }
    let offset = state.app.reference().calendar.offset();
    Ok(Json(LoginResponse {
        token: login.token,
        expires_at: login.expires_at.with_timezone(&offset),
        user: UserDto::of(&state, &login.principal),
    }))
}

/// Revokes the token used for this request.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<StatusCode> {
    let token = bearer_token(&headers).ok_or_else(|| ApiError::unauthorized("log in first"))?;
    state.app.authenticate(token).await?;
    state.app.logout(token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = UserDto), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn me(State(state): State<AppState>, Auth(who): Auth) -> Json<UserDto> {
    Json(UserDto::of(&state, &who))
}

/// A secret being set up for two-step sign-in: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetupDto {
    /// Base32, to type into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code.
    pub otpauth_url: String,
}

/// A one-time code from the authenticator app.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    pub code: String,
}

/// The account's password, asked again before a change to how it signs in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordAgain {
    pub password: String,
}

/// Starts two-step sign-in for the caller, who gives their password again: a new secret for an
/// authenticator app; it takes effect once a code from it is confirmed.
#[utoipa::path(post, path = "/api/v1/auth/totp", tag = "auth", request_body = PasswordAgain,
    responses((status = 201, body = TotpSetupDto), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_up_totp(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<PasswordAgain>,
) -> Result<(StatusCode, Json<TotpSetupDto>)> {
    let setup = state.app.set_up_totp(&who, &body.password).await?;
    Ok((StatusCode::CREATED, Json(TotpSetupDto { secret: setup.secret, otpauth_url: setup.otpauth_url })))
}

/// Turns two-step sign-in on with a code from the secret being set up; the user's other sign-ins end.
#[utoipa::path(post, path = "/api/v1/auth/totp/confirm", tag = "auth", request_body = TotpCode,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TotpCode>,
) -> Result<StatusCode> {
    state.app.confirm_totp(&who, &body.code, bearer_token(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turns the caller's two-step sign-in off, with a current code.
#[utoipa::path(post, path = "/api/v1/auth/totp/off", tag = "auth", request_body = TotpCode,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn turn_off_totp(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<TotpCode>,
) -> Result<StatusCode> {
    state.app.turn_off_totp(&who, &body.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user's two-step sign-in, for a lost phone (administrators).
#[utoipa::path(delete, path = "/api/v1/users/{username}/totp", tag = "auth",
    params(("username" = String, Path, description = "the user")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reset_totp(
    State(state): State<AppState>,
    Auth(who): Auth,
    axum::extract::Path(username): axum::extract::Path<String>,
) -> Result<StatusCode> {
    state.app.reset_totp(&who, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A password change: the current password and the new one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// At least 8 characters, not counting spaces at either end.
    pub new_password: String,
}

/// Changes the caller's password; their other sign-ins end, this one goes on.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<StatusCode> {
    state.app.change_own_password(&who, &body.current_password, &body.new_password, bearer_token(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a new password for a user who forgot theirs; their sign-ins end (administrators).
#[utoipa::path(put, path = "/api/v1/users/{username}/password", tag = "auth", request_body = PasswordAgain,
    params(("username" = String, Path, description = "the user")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reset_password(
    State(state): State<AppState>,
    Auth(who): Auth,
    axum::extract::Path(username): axum::extract::Path<String>,
    ApiJson(body): ApiJson<PasswordAgain>,
) -> Result<StatusCode> {
    state.app.reset_password(Some(&who), &username, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether an account is open.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountOpen {
    pub active: bool,
}

/// Closes an account (its sign-ins and tokens stop working) or opens it again (administrators; not
/// their own).
#[utoipa::path(put, path = "/api/v1/users/{username}/active", tag = "auth", request_body = AccountOpen,
    params(("username" = String, Path, description = "the user")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_active(
    State(state): State<AppState>,
    Auth(who): Auth,
    axum::extract::Path(username): axum::extract::Path<String>,
    ApiJson(body): ApiJson<AccountOpen>,
) -> Result<StatusCode> {
    state.app.set_account_open(Some(&who), &username, body.active).await?;
    Ok(StatusCode::NO_CONTENT)
}
