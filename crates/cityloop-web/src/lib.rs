//! cityloop's web pages, served by the same binary as the API: the operator workbench, case list
//! and case page, the dispatcher desk, the unit inbox, the inspector's phone page, the leader
//! screen, the admin pages and the resident portal. Pages are rendered on the server from
//! compiled, auto-escaping templates; every asset (CSS, script, the city map) is embedded, and the
//! pages work without their script, which only adds shortcuts, map clicks and live previews.

pub mod i18n;
pub mod pages;
pub mod session;
pub mod svg;

use std::sync::{Arc, RwLock};

use axum::extract::DefaultBodyLimit;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{middleware, Router};
use cityloop_app::App;

use crate::svg::CityMap;

/// Settings of the pages.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// A basemap tile URL template (`https://tiles.example/{z}/{x}/{y}.png`) for cities that have
    /// one; without it the maps show the grids only.
    pub basemap_url: Option<String>,
}

/// The projected city map, keyed by the reference snapshot it was drawn from.
type MapSlot = Arc<RwLock<Option<(usize, Arc<CityMap>)>>>;

/// What the page handlers share.
#[derive(Clone)]
pub struct WebState {
    pub app: App,
    pub settings: Arc<WebSettings>,
    map: MapSlot,
}

impl WebState {
    pub fn new(app: App, settings: WebSettings) -> Self {
        Self { app, settings: Arc::new(settings), map: Arc::default() }
    }

    /// The city map of the current reference snapshot, projected once per snapshot.
    pub fn map(&self) -> Arc<CityMap> {
        let reference = self.app.reference();
        let key = Arc::as_ptr(&reference) as usize;
        if let Some((k, m)) = self.map.read().ok().and_then(|m| m.clone()) {
            if k == key {
                return m;
            }
        }
        let fresh = Arc::new(CityMap::build(&reference));
        if let Ok(mut slot) = self.map.write() {
            *slot = Some((key, Arc::clone(&fresh)));
        }
        fresh
    }
}

/// Text made safe inside HTML or SVG markup built outside the templates (which escape by themselves).
pub(crate) fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The embedded stylesheet and script, with a version for cache busting.
pub const APP_CSS: &str = include_str!("../assets/app.css");
pub const APP_JS: &str = include_str!("../assets/app.js");

/// A short content version of the assets, so that browsers may cache them for a long time.
pub fn asset_version() -> &'static str {
    static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{APP_CSS}{APP_JS}").as_bytes());
        hex::encode(&digest[..6])
    });
    &VERSION
}

async fn css() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "public, max-age=31536000, immutable")], APP_CSS)
}

async fn js() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8"), (CACHE_CONTROL, "public, max-age=31536000, immutable")], APP_JS)
}

async fn city_svg(axum::extract::State(state): axum::extract::State<WebState>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "image/svg+xml"), (CACHE_CONTROL, "public, max-age=300")], state.map().city_document())
}

/// Largest form body; photo uploads share the attachment limit.
fn form_limit(app: &App) -> usize {
    app.settings.max_attachment_bytes * 4 + 256 * 1024
}

/// Every page route.
pub fn router(app: App, settings: WebSettings) -> Router {
    let limit = form_limit(&app);
    let state = WebState::new(app, settings);
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::auth::login_form).post(pages::auth::login))
        .route("/logout", post(pages::auth::logout))
        .route("/account", get(pages::account::show))
        .route("/account/password", post(pages::account::change_password))
        .route("/account/totp", post(pages::account::start))
        .route("/account/totp/confirm", post(pages::account::confirm))
        .route("/account/totp/off", post(pages::account::turn_off))
        .route("/lang/{code}", get(pages::auth::switch_language))
        .route("/assets/app.css", get(css))
        .route("/assets/app.js", get(js))
        .route("/maps/city.svg", get(city_svg))
        .route("/files/{hash}", get(pages::cases::attachment))
        .route("/intake", get(pages::intake::workbench).post(pages::intake::create))
        .route("/intake/caller", get(pages::intake::caller_history))
        .route("/intake/preview", get(pages::intake::preview))
        .route("/cases", get(pages::cases::list))
        .route("/cases/export", get(pages::cases::export))
        .route("/cases/views", post(pages::cases::save_view))
        .route("/cases/views/{id}/delete", post(pages::cases::delete_view))
        .route("/cases/{number}", get(pages::cases::show))
        .route("/cases/{number}/moves/{kind}", post(pages::cases::make_move))
        .route("/desk", get(pages::desk::desk))
        .route("/desk/dispatch", post(pages::desk::bulk_dispatch))
        .route("/inbox", get(pages::desk::inbox))
        .route("/inspector", get(pages::inspector::page).post(pages::inspector::report))
        .route("/leader", get(pages::leader::screen))
        .route("/evaluation", get(pages::evaluation::page))
        .route("/evaluation/export", get(pages::evaluation::export))
        .route("/evaluation/cases", get(pages::evaluation::cases))
        .route("/signals", get(pages::signals::page))
        .route("/topics", get(pages::topics::page).post(pages::topics::adopt))
        .route("/signals/scan", post(pages::signals::scan))
        .route("/signals/{id}/state", post(pages::signals::mark))
        .route("/admin", get(pages::admin::index))
        .route("/admin/units", get(pages::admin::units).post(pages::admin::add_unit))
        .route("/admin/units/{code}", get(pages::admin::edit_unit_page).post(pages::admin::edit_unit))
        .route("/admin/users", get(pages::admin::users).post(pages::admin::add_user))
        .route("/admin/users/account", post(pages::admin::account_action))
        .route("/admin/users/{username}", get(pages::admin::edit_user_page).post(pages::admin::edit_user))
        .route("/admin/categories", get(pages::admin::categories).post(pages::admin::import_categories))
        .route("/admin/categories/{code}", get(pages::admin::edit_category_page).post(pages::admin::edit_category))
        .route("/admin/catalogue", get(pages::admin::catalogue).post(pages::admin::add_rule))
        .route("/admin/catalogue/{id}/delete", post(pages::admin::delete_rule))
        .route("/admin/grids", get(pages::admin::grids).post(pages::admin::upload_grids))
        .route("/admin/divisions", get(pages::admin::divisions))
        .route("/admin/calendar", get(pages::admin::calendar).post(pages::admin::set_day))
        .route("/admin/knowledge", get(pages::admin::knowledge).post(pages::admin::add_article))
        .route("/admin/knowledge/{id}", get(pages::admin::edit_article_page).post(pages::admin::edit_article))
        .route("/admin/knowledge/import", post(pages::admin::import_articles))
        .route("/admin/knowledge/{id}/delete", post(pages::admin::delete_article))
        .route("/admin/classifier", get(pages::admin::classifier).post(pages::admin::train_classifier))
        .route("/admin/webhooks", get(pages::admin::webhooks).post(pages::admin::add_webhook))
        .route("/admin/access", get(pages::access::page))
        .route("/admin/webhooks/{id}/disable", post(pages::admin::disable_webhook))
        .route("/admin/webhooks/deliveries/{id}/retry", post(pages::admin::retry_delivery))
        .route("/intake/suggest", get(pages::smart::suggest))
        .route("/intake/similar", get(pages::smart::similar))
        .route("/intake/knowledge", get(pages::smart::knowledge))
        .route("/replies", get(pages::smart::replies))
        .route("/portal", get(pages::portal::home).post(pages::portal::submit))
        .route("/portal/track", get(pages::portal::track_form).post(pages::portal::track))
        .route("/portal/rate", post(pages::portal::rate))
        .route("/portal/reopen", post(pages::portal::reopen))
        .route("/portal/requests", get(pages::portal::public_list))
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(session::ensure_visitor_cookie))
        .with_state(state)
}
