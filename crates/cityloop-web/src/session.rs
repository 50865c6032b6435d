//! Sessions and forms. Staff sign in with a login token kept in an HttpOnly, SameSite=Lax cookie;
//! every visitor (residents too) gets an anonymous cookie. Each form carries a CSRF token derived
//! from the one of those cookies that applies, so that another site cannot post a form on a
//! visitor's behalf: it can neither read the cookie nor compute the token.

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Multipart, OptionalFromRequestParts, Request};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use cityloop_app::access::RequestWatch;
use cityloop_app::{AppError, Principal};
use rand::RngCore;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::i18n::{Lang, Tr};
use crate::WebState;

pub const SESSION_COOKIE: &str = "cl_session";
pub const ANON_COOKIE: &str = "cl_anon";
pub const LANG_COOKIE: &str = "cl_lang";
/// The hidden field every form carries.
pub const CSRF_FIELD: &str = "_csrf";

/// The token a form must carry for a cookie value.
pub fn csrf_token(cookie_value: &str) -> String {
    let digest = Sha256::digest(format!("cityloop-csrf\0{cookie_value}").as_bytes());
    hex::encode(&digest[..16])
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// The anonymous visitor id, set by [`ensure_visitor_cookie`] before any handler runs.
#[derive(Clone)]
struct VisitorId(String);

/// Gives every visitor an anonymous cookie (for the CSRF token of forms shown before login and on
/// the resident portal) and sends the security headers of pages.
pub async fn ensure_visitor_cookie(jar: CookieJar, mut req: Request, next: Next) -> Response {
    let existing = jar.get(ANON_COOKIE).map(|c| c.value().to_string()).filter(|v| v.len() == 32);
    let (id, fresh) = match existing {
        Some(v) => (v, false),
        None => (random_hex(16), true),
    };
    req.extensions_mut().insert(VisitorId(id.clone()));
    let mut res = next.run(req).await;
    if fresh {
        if let Ok(v) = HeaderValue::from_str(&format!("{ANON_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax")) {
            res.headers_mut().append(SET_COOKIE, v);
        }
    }
    let h = res.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob: https:; style-src 'self'; script-src 'self'; \
             frame-ancestors 'none'; form-action 'self'",
        ),
    );
    res
}

/// What every page knows about its visitor: language, session, CSRF token and path.
#[derive(Clone)]
pub struct Visit {
    pub tr: Tr,
    pub csrf: String,
    pub path: String,
    pub session: Option<String>,
    /// The basemap tile URL template of the settings, empty for none.
    pub basemap: String,
}

impl FromRequestParts<WebState> for Visit {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let lang = jar.get(LANG_COOKIE).map(|c| Lang::from_code(c.value())).unwrap_or_default();
        let session = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()).filter(|v| !v.is_empty());
        let visitor = parts.extensions.get::<VisitorId>().map(|v| v.0.clone()).unwrap_or_default();
        let csrf = csrf_token(session.as_deref().unwrap_or(&visitor));
        let path = parts.uri.path_and_query().map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
        let basemap = state.settings.basemap_url.clone().unwrap_or_default();
        Ok(Visit { tr: Tr { lang }, csrf, path, session, basemap })
    }
}

/// A signed-in staff member (or citizen account); others are sent to the login page.
pub struct Staff {
    pub who: Principal,
    pub visit: Visit,
}

/// A page address's parameters, read into `T`; the one that does not parse is named in the error.
pub fn parse_page_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(pairs).map_err(|e| {
        // A parameter left out is reported at the top of the path, its name only in serde's message.
        let missing =
            e.inner().to_string().strip_prefix("missing field `").and_then(|m| m.split('`').next().map(String::from));
        match missing {
            Some(field) => AppError::invalid(field, "is required in the page's address"),
            None => AppError::invalid(e.path().to_string(), "is not a valid value in the page's address"),
        }
    })
}

/// The `{id}` of a page's address. A mistyped one (`/admin/knowledge/abc`) names no record: the
/// visitor gets the site's page for an address that is no page, not the framework's plain text.
pub struct PageId(pub i64);

impl FromRequestParts<WebState> for PageId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        type Raw = axum::extract::Path<String>;
        let id = <Raw as FromRequestParts<WebState>>::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|p| p.0.parse().ok());
        id.map(PageId).ok_or_else(|| crate::pages::no_such_page(&parts.headers))
    }
}

/// A page's query parameters. One that does not parse (`?page=abc`, a link typed by hand) gets the
/// site's error page in the visitor's language, naming the parameter, rather than the framework's
/// plain text.
pub struct PageQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<WebState> for PageQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        let error = match parse_page_query(parts.uri.query().unwrap_or_default()) {
            Ok(value) => return Ok(PageQuery(value)),
            Err(error) => error,
        };
        // Staff keep their navigation on the error page.
        if let Ok(staff) = <Staff as FromRequestParts<WebState>>::from_request_parts(parts, state).await {
            return Err(crate::pages::staff_error_page(&staff, &error));
        }
        let visit = Visit::from_request_parts(parts, state).await?;
        Err(crate::pages::error_page(&visit.tr, &error))
    }
}

impl FromRequestParts<WebState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        let visit = Visit::from_request_parts(parts, state).await?;
        let login = || {
            let next: String = form_urlencoded::byte_serialize(visit.path.as_bytes()).collect();
            Redirect::to(&format!("/login?next={next}")).into_response()
        };
        let Some(token) = visit.session.clone() else { return Err(login()) };
        match state.app.authenticate(&token).await {
            Ok(who) => {
                if let Some(watch) = parts.extensions.get::<RequestWatch>() {
                    watch.caller(&who.user);
                }
                // A data recipient takes the API's masked exports, not the pages.
                if who.exports_only() {
                    let refused = cityloop_app::AppError::Forbidden(
                        "a data recipient takes masked exports through the API".into(),
                    );
                    return Err(crate::pages::error_page(&visit.tr, &refused));
                }
                Ok(Staff { who, visit })
            }
            Err(cityloop_app::AppError::Unauthorized(_)) => Err(login()),
            Err(e) => Err(crate::pages::error_page(&visit.tr, &e)),
        }
    }
}

impl OptionalFromRequestParts<WebState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Option<Self>, Self::Rejection> {
        Ok(<Staff as FromRequestParts<WebState>>::from_request_parts(parts, state).await.ok())
    }
}

/// An uploaded file of a form.
#[derive(Debug, Clone)]
pub struct Upload {
    pub field: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A submitted form (URL-encoded or multipart) whose CSRF token has been checked.
#[derive(Debug, Clone, Default)]
pub struct FormInput {
    pub fields: Vec<(String, String)>,
    pub files: Vec<Upload>,
}

impl FormInput {
    /// The first value of a field, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    /// Every non-blank value of a field (checkbox lists, multi-selects).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// The values as a map of first values, to refill a form after an error.
    pub fn values(&self) -> HashMap<String, String> {
        let mut out: HashMap<String, String> = HashMap::new();
        for (k, v) in &self.fields {
            out.entry(k.clone()).or_insert_with(|| v.clone());
            // Every value of a field that repeats (ticked boxes), one per line, under `name[]`.
            let all = out.entry(format!("{k}[]")).or_default();
            if !all.is_empty() {
                all.push('\n');
            }
            all.push_str(v);
        }
        out
    }

    /// Non-empty uploaded files.
    pub fn uploads(&self) -> impl Iterator<Item = &Upload> {
        self.files.iter().filter(|f| !f.bytes.is_empty())
    }
}

impl FromRequest<WebState> for FormInput {
    type Rejection = Response;

    async fn from_request(req: Request, state: &WebState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let visit = Visit::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let content_type =
            req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
        let bad = |msg: String| crate::pages::message_page(&visit.tr, StatusCode::BAD_REQUEST, &msg);
        let mut form = FormInput::default();
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(req, state).await.map_err(|e| bad(format!("bad form: {e}")))?;
            while let Some(field) = multipart.next_field().await.map_err(|e| too_large_or_bad(&visit.tr, e))? {
                let name = field.name().unwrap_or_default().to_string();
                match field.file_name().map(str::to_string) {
                    Some(file_name) => {
                        let bytes = field.bytes().await.map_err(|e| too_large_or_bad(&visit.tr, e))?;
                        let file_name = file_name.replace('\0', "");
                        form.files.push(Upload { field: name, file_name, bytes: bytes.to_vec() });
                    }
                    None => {
                        let text = field.text().await.map_err(|e| too_large_or_bad(&visit.tr, e))?;
                        form.fields.push((name, text));
                    }
                }
            }
        } else {
            let bytes = axum::body::Bytes::from_request(req, state)
                .await
                .map_err(|e| crate::pages::message_page(&visit.tr, StatusCode::PAYLOAD_TOO_LARGE, &e.to_string()))?;
            form.fields = form_urlencoded::parse(&bytes).into_owned().collect();
        }
        // A NUL character has no place in a text (and PostgreSQL cannot store one).
        for (name, value) in &mut form.fields {
            name.retain(|c| c != '\0');
            value.retain(|c| c != '\0');
        }
        if form.get(CSRF_FIELD).as_deref() != Some(visit.csrf.as_str()) {
            return Err(crate::pages::message_page(&visit.tr, StatusCode::FORBIDDEN, visit.tr.get("error.csrf")));
        }
        Ok(form)
    }
}

fn too_large_or_bad(tr: &Tr, e: axum::extract::multipart::MultipartError) -> Response {
    crate::pages::message_page(tr, e.status(), &e.body_text())
}

/// The cookie that signs a user in.
pub fn session_cookie(token: &str) -> String {
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax")
}

/// The cookie that signs a user out.
pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The language cookie (a year).
pub fn lang_cookie(lang: Lang) -> String {
    format!("{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000", lang.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_differ_per_cookie_and_are_stable() {
        assert_eq!(csrf_token("abc"), csrf_token("abc"));
        assert_ne!(csrf_token("abc"), csrf_token("abd"));
        assert_eq!(csrf_token("abc").len(), 32);
    }

    #[test]
    fn form_values_are_trimmed_and_blank_values_dropped() {
        let form = FormInput {
            fields: vec![
                ("a".into(), " x ".into()),
                ("b".into(), "  ".into()),
                ("u".into(), "1".into()),
                ("u".into(), "2".into()),
            ],
            files: vec![],
        };
        assert_eq!(form.get("a").as_deref(), Some("x"));
        assert_eq!(form.get("b"), None);
        assert_eq!(form.all("u"), vec!["1", "2"]);
    }
}
