//! Rate limits of what anyone can post without an account or before signing in — the sign-in forms,
//! the resident portal, Open311 requests and updates — per client address, on each node.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::json;

use crate::state::AppState;

/// Checks between two clean-ups of addresses whose allowance is full again.
const CLEAN_UP_EVERY: u64 = 10_000;

/// The allowance of each client address.
pub struct PublicLimits {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// The header a trusted reverse proxy puts the client's address in; `None`: the peer's address.
    client_ip_header: Option<String>,
    checks: AtomicU64,
}

impl PublicLimits {
    /// `per_minute` posts per address, all of them at once at most.
    pub fn new(per_minute: u32, client_ip_header: Option<String>) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            client_ip_header: client_ip_header.filter(|h| !h.is_empty()).map(|h| h.to_ascii_lowercase()),
            checks: AtomicU64::new(0),
        }
    }

    /// `Err(seconds to wait)` when the address has used up its allowance.
    fn check(&self, ip: IpAddr) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % CLEAN_UP_EVERY == CLEAN_UP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// The client's address: with a trusted proxy, the last address in its header (the one the proxy
    /// added: those before it are whatever the client sent); else the peer's.
    pub(crate) fn client_ip(&self, req: &Request) -> IpAddr {
        let forwarded = self.client_ip_header.as_deref().and_then(|name| {
            let value = req.headers().get(name)?.to_str().ok()?;
            value.rsplit(',').next()?.trim().parse().ok()
        });
        let peer = || req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        forwarded.or_else(peer).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// Whether anyone can send this request without an account (or to get one).
fn is_public_post(method: &Method, path: &str) -> bool {
    method == Method::POST
        && (path == "/login"
            || path == "/api/v1/auth/login"
            || path == "/portal"
            || path.starts_with("/portal/")
            || path.starts_with("/open311/v2/"))
}

/// Refuses a public post from an address that has used up its allowance: 429 with `Retry-After`.
pub async fn limit_public_posts(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !is_public_post(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let limits = &state.limits;
    match limits.check(limits.client_ip(&req)) {
        Ok(()) => next.run(req).await,
        Err(seconds) => {
            let body = json!({ "error": {
                "code": "rate_limited",
                "message": format!("too many requests from this address; try again in {seconds} s (请求过于频繁, 请稍后再试)"),
                "retry_after_seconds": seconds,
            }});
            let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
            let h = response.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_anyone_can_post_is_limited() {
        for path in ["/login", "/api/v1/auth/login", "/portal", "/portal/rate", "/open311/v2/requests.json"] {
            assert!(is_public_post(&Method::POST, path), "{path}");
        }
        assert!(!is_public_post(&Method::GET, "/portal"));
        assert!(!is_public_post(&Method::POST, "/api/v1/cases"));
        assert!(!is_public_post(&Method::POST, "/portalx"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_address_it_added_counts() {
        let limits = PublicLimits::new(3, Some("X-Forwarded-For".into()));
        let req = Request::builder()
            .uri("/login")
            .header("x-forwarded-for", "6.6.6.6, 10.0.0.9")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(limits.client_ip(&req), IpAddr::from([10, 0, 0, 9]), "the first one is the client's to choose");
        let direct = PublicLimits::new(3, None);
        assert_eq!(direct.client_ip(&req), IpAddr::V4(Ipv4Addr::UNSPECIFIED), "no header trusted, no peer known");
    }

    #[test]
    fn an_address_gets_its_allowance_and_then_waits() {
        let limits = PublicLimits::new(3, None);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        assert!((0..3).all(|_| limits.check(a).is_ok()));
        let wait = limits.check(a).unwrap_err();
        assert!((1..=20).contains(&wait), "one post comes back every 20 s: {wait}");
        assert!(limits.check(b).is_ok(), "each address has its own allowance");
    }
}
