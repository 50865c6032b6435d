//! The OpenAPI document, generated from the handlers' annotations and the DTO types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API description served at `/api/v1/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "cityloop API", description = "The closed loop of a city's 12345 hotline and grid management: intake, workflow moves, reference data."),
    paths(
        api::auth::login, api::auth::logout, api::auth::me, api::auth::set_up_totp, api::auth::confirm_totp,
        api::auth::turn_off_totp, api::auth::reset_totp, api::auth::change_password, api::auth::reset_password,
        api::auth::set_active,
        api::cases::create, api::cases::list, api::cases::export, api::cases::show, api::cases::make_move,
        api::reference::units, api::reference::update_unit, api::reference::categories, api::reference::update_category, api::reference::divisions, api::reference::grids,
        api::reference::catalogue, api::reference::put_rule, api::reference::delete_rule,
        api::reference::calendar, api::reference::set_day, api::reference::users, api::reference::add_user, api::reference::update_user,
        api::reference::notices, api::reference::dispatch_preview,
        api::smart::classify, api::smart::versions, api::smart::duplicates, api::smart::case_duplicates,
        api::smart::dispatch_hints, api::smart::reply_check, api::smart::reply_summary, api::smart::search_articles,
        api::smart::show_article, api::smart::create_article, api::smart::update_article, api::smart::delete_article,
        api::smart::import_articles,
        api::clients::register_client, api::clients::list_clients, api::clients::revoke_client, api::clients::set_service,
        api::clients::create_token, api::clients::list_tokens, api::clients::revoke_token,
        api::access::list, api::access::alerts, api::access::events,
        api::webhooks::create, api::webhooks::list, api::webhooks::disable, api::webhooks::deliveries,
        api::webhooks::delivery, api::webhooks::retry,
        api::evaluation::report, api::evaluation::cases, api::evaluation::export,
        api::signals::list, api::signals::show, api::signals::scan, api::signals::set_state,
        api::topics::candidates, api::topics::list, api::topics::adopt,
        api::attachments::upload, api::attachments::download,
        api::system::healthz, api::system::metrics,
    ),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "cases"), (name = "reference"), (name = "admin"), (name = "evaluation"), (name = "signals"), (name = "smart"), (name = "open311"), (name = "attachments"), (name = "system"))
)]
pub struct ApiDoc;
