//! The permission walk: every operation of the OpenAPI document (every move of a case counted on its
//! own) × every role × an object inside the caller's part of the city and one outside it, each
//! answered as the roles of docs/workflow.md say. The expected answers are written here from those
//! roles, not read from the code; an operation the document lists and this table does not fails the
//! walk, so a new endpoint cannot go unchecked.

use std::collections::{BTreeSet, HashMap};

use cityloop_app::demo::DEMO_PASSWORD;
use cityloop_domain::workflow::MoveKind;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_every_engine;

/// Who calls: nobody signed in, or a user holding one role.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Caller {
    Anonymous,
    Admin,
    Operator,
    Lead,
    Dispatcher,
    Handler,
    Inspector,
    Coordinator,
    Leader,
    Citizen,
    Recipient,
}
use Caller::*;

const CALLERS: [Caller; 11] =
    [Anonymous, Admin, Operator, Lead, Dispatcher, Handler, Inspector, Coordinator, Leader, Citizen, Recipient];

impl Caller {
    /// Callers who see only part of the city: their unit, their grids, their street, their requests.
    fn sees_part(self) -> bool {
        matches!(self, Handler | Inspector | Coordinator | Citizen)
    }
}

/// The object a call is about: inside the part-of-the-city callers' part (their unit's case in their
/// grid and street, the citizen's own request), or outside it (another district, unit and resident).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Inside,
    Outside,
}

/// What the caller is told.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Told {
    /// Served: the call went past every check of who may make it (it may still be a 409 or 422).
    Served,
    /// 403.
    Refused,
    /// 404: the object is not shown to this caller, as if it did not exist.
    Hidden,
    /// 401.
    SignIn,
}

fn told(status: StatusCode) -> Told {
    match status {
        StatusCode::UNAUTHORIZED => Told::SignIn,
        StatusCode::FORBIDDEN => Told::Refused,
        StatusCode::NOT_FOUND => Told::Hidden,
        _ => Told::Served,
    }
}

const EVERYONE: &[Caller] = &CALLERS;
const SIGNED_IN: &[Caller] = &[Admin, Operator, Lead, Dispatcher, Handler, Inspector, Coordinator, Leader, Citizen];
/// Signed in, data recipients included (what does not go through the API's sign-in check).
const ANY_TOKEN: &[Caller] =
    &[Admin, Operator, Lead, Dispatcher, Handler, Inspector, Coordinator, Leader, Citizen, Recipient];
const EXPORTERS: &[Caller] = ANY_TOKEN;
const ADMIN: &[Caller] = &[Admin];
const ANALYSTS: &[Caller] = &[Admin, Lead, Dispatcher, Leader];
/// The hotline's desk: knowledge base and duplicate search.
const DESK: &[Caller] = &[Admin, Operator, Lead, Dispatcher];
const INTAKE: &[Caller] = &[Admin, Operator, Lead, Dispatcher, Inspector, Citizen];
const CLASSIFIER: &[Caller] = &[Admin, Operator, Lead, Dispatcher, Inspector];
const CASE_ADVICE: &[Caller] = &[Admin, Operator, Lead, Dispatcher, Leader];
const EVALUATION: &[Caller] = &[Admin, Lead, Dispatcher, Leader, Handler];
const DECIDERS: &[Caller] = &[Admin, Leader];

/// How far an allowed caller reaches.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reach {
    /// No object, or one every allowed caller may reach.
    Whole,
    /// A case or what hangs on it: a part-of-the-city caller is not shown one outside its part.
    Case,
    /// Intake: an inspector reports in their own grids only.
    OwnGrids,
    /// A unit's figures: a handler reads only their own unit's.
    OwnUnit,
    /// Nothing of the kind is stored: an allowed caller is told so.
    Absent,
}

/// What an allowed call needs of its own.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fresh {
    Nothing,
    /// A sign-in of its own (the call ends it).
    SignIn,
    /// An object of its own (the call deletes it).
    Article,
    Rule,
    Token,
    Client,
    Webhook,
}

enum Body {
    Empty,
    Json(Value),
    Raw(Vec<u8>),
    /// A page's form; the CSRF field is added when it is sent.
    Form(Vec<(&'static str, String)>),
}

struct Call {
    path: String,
    body: Body,
}

fn at(path: impl Into<String>) -> Call {
    Call { path: path.into(), body: Body::Empty }
}

fn with(path: impl Into<String>, body: Value) -> Call {
    Call { path: path.into(), body: Body::Json(body) }
}

struct Op {
    method: Method,
    /// As the OpenAPI document writes it.
    path: &'static str,
    allowed: &'static [Caller],
    reach: Reach,
    fresh: Fresh,
    call: fn(&World, Side) -> Call,
}

fn op(method: Method, path: &'static str, allowed: &'static [Caller], call: fn(&World, Side) -> Call) -> Op {
    Op { method, path, allowed, reach: Reach::Whole, fresh: Fresh::Nothing, call }
}

impl Op {
    fn reach(self, reach: Reach) -> Self {
        Op { reach, ..self }
    }

    fn fresh(self, fresh: Fresh) -> Self {
        Op { fresh, ..self }
    }

    fn sides(&self) -> &'static [Side] {
        if self.reach == Reach::Whole {
            &[Side::Inside]
        } else {
            &[Side::Inside, Side::Outside]
        }
    }

    fn expected(&self, caller: Caller, side: Side) -> Told {
        if !self.allowed.contains(&caller) {
            return if caller == Anonymous { Told::SignIn } else { Told::Refused };
        }
        match (self.reach, side) {
            (Reach::Absent, _) => Told::Hidden,
            (Reach::Case, Side::Outside) if caller.sees_part() => Told::Hidden,
            (Reach::OwnGrids, Side::Outside) if caller == Inspector => Told::Refused,
            (Reach::OwnUnit, Side::Outside) if caller == Handler => Told::Refused,
            _ => Told::Served,
        }
    }
}

/// What a move's role needs of the case (docs/workflow.md, the move table).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Needs {
    Any,
    /// The case is led by the handler's unit (or a sub-unit).
    Unit,
    /// The case lies in the inspector's grids.
    Grid,
    /// The case lies in the coordinator's street.
    Street,
    /// The citizen reported it.
    Reporter,
    /// The handler's unit was summoned by a whistle (none is, on the walk's cases).
    Summoned,
    /// The handler's unit assists or reported in on a whistle (none does, on the walk's cases).
    Involved,
}
use Needs::*;

/// Who makes each move a person makes.
const MOVES: &[(&str, &[(Caller, Needs)])] = &[
    ("request-verification", &[(Operator, Any), (Lead, Any)]),
    ("verify", &[(Inspector, Grid)]),
    ("answer", &[(Operator, Any)]),
    ("file", &[(Lead, Any)]),
    ("void", &[(Lead, Any)]),
    ("dispatch", &[(Dispatcher, Any)]),
    ("sign", &[(Handler, Unit)]),
    ("return", &[(Handler, Unit)]),
    ("approve-return", &[(Dispatcher, Any)]),
    ("reject-return", &[(Dispatcher, Any)]),
    ("extend", &[(Handler, Unit)]),
    ("approve-extension", &[(Dispatcher, Any)]),
    ("reject-extension", &[(Dispatcher, Any)]),
    ("suspend", &[(Handler, Unit)]),
    ("approve-suspension", &[(Dispatcher, Any)]),
    ("reject-suspension", &[(Dispatcher, Any)]),
    ("resume", &[(Dispatcher, Any)]),
    ("submit", &[(Handler, Unit)]),
    ("rework", &[(Dispatcher, Any), (Lead, Any)]),
    ("check", &[(Inspector, Grid)]),
    ("revisit", &[(Operator, Any)]),
    ("rate", &[(Citizen, Reporter)]),
    ("close", &[(Lead, Any)]),
    ("reopen", &[(Operator, Any), (Citizen, Reporter)]),
    ("supervise", &[(Dispatcher, Any), (Lead, Any)]),
    ("escalate", &[(Handler, Unit), (Dispatcher, Any)]),
    ("whistle", &[(Coordinator, Street)]),
    ("report-in", &[(Handler, Summoned)]),
    ("merge", &[(Operator, Any), (Dispatcher, Any)]),
    (
        "comment",
        &[
            (Citizen, Reporter),
            (Operator, Any),
            (Lead, Any),
            (Dispatcher, Any),
            (Handler, Unit),
            (Handler, Involved),
            (Inspector, Grid),
        ],
    ),
];

fn move_expected(grants: &[(Caller, Needs)], caller: Caller, side: Side) -> Told {
    match caller {
        Anonymous => return Told::SignIn,
        Recipient => return Told::Refused,
        _ if side == Side::Outside && caller.sees_part() => return Told::Hidden,
        _ => {}
    }
    let holds = |needs: Needs| match needs {
        Any => true,
        Unit | Grid | Street | Reporter => side == Side::Inside,
        Summoned | Involved => false,
    };
    if grants.iter().any(|(role, needs)| *role == caller && holds(*needs)) {
        Told::Served
    } else {
        Told::Refused
    }
}

/// The phone the walk's residents give with their requests.
const RESIDENT_PHONE: &str = "13800001111";

/// A case of the walk.
#[derive(Clone, Debug)]
struct Place {
    id: i64,
    number: String,
    lat: f64,
    lon: f64,
    unit: i64,
    unit_code: String,
    attachment: String,
}

/// The demo city as the walk uses it.
struct World {
    tokens: HashMap<Caller, String>,
    usernames: HashMap<Caller, String>,
    inside: Place,
    outside: Place,
    article: i64,
    signal: i64,
    /// The id of the object made for this call.
    fresh: String,
    /// A number no other call used.
    serial: i64,
    /// Who makes this call.
    caller: Caller,
    /// A saved case-list view of a user outside the walk.
    others_view: i64,
}

impl World {
    fn place(&self, side: Side) -> &Place {
        match side {
            Side::Inside => &self.inside,
            Side::Outside => &self.outside,
        }
    }
}

fn ops() -> Vec<Op> {
    use Method as M;
    vec![
        // Signing in and out, two-step sign-in.
        op(M::POST, "/api/v1/auth/login", EVERYONE, |_, _| {
            with("/api/v1/auth/login", json!({"username": "citizen2", "password": DEMO_PASSWORD}))
        }),
        op(M::POST, "/api/v1/auth/logout", ANY_TOKEN, |_, _| at("/api/v1/auth/logout")).fresh(Fresh::SignIn),
        op(M::GET, "/api/v1/auth/me", SIGNED_IN, |_, _| at("/api/v1/auth/me")),
        op(M::POST, "/api/v1/auth/totp", SIGNED_IN, |_, _| {
            with("/api/v1/auth/totp", json!({"password": DEMO_PASSWORD}))
        }),
        op(M::POST, "/api/v1/auth/totp/confirm", SIGNED_IN, |_, _| {
            with("/api/v1/auth/totp/confirm", json!({"code": "000000"}))
        }),
        op(M::POST, "/api/v1/auth/totp/off", SIGNED_IN, |_, _| {
            with("/api/v1/auth/totp/off", json!({"code": "000000"}))
        }),
        op(M::DELETE, "/api/v1/users/{username}/totp", ADMIN, |_, _| at("/api/v1/users/operator2/totp")),
        // Passwords and accounts (a new password too short to take: nothing changes).
        op(M::POST, "/api/v1/auth/password", SIGNED_IN, |_, _| {
            with("/api/v1/auth/password", json!({"current_password": DEMO_PASSWORD, "new_password": "short"}))
        }),
        op(M::PUT, "/api/v1/users/{username}/password", ADMIN, |_, _| {
            with("/api/v1/users/operator2/password", json!({"password": "short"}))
        }),
        op(M::PUT, "/api/v1/users/{username}/active", ADMIN, |_, _| {
            with("/api/v1/users/operator2/active", json!({"active": true}))
        }),
        // Cases.
        op(M::POST, "/api/v1/cases", INTAKE, |w, side| {
            let p = w.place(side);
            // Each through a channel of their own: an inspector reports what they found on patrol.
            let channel = if w.caller == Inspector { "inspector" } else { "app" };
            with(
                "/api/v1/cases",
                json!({"channel": channel, "request_type": "complaint", "title": "垃圾桶满溢",
                       "description": "小区门口垃圾桶满了两天没人清运", "location": {"lat": p.lat, "lon": p.lon}}),
            )
        })
        .reach(Reach::OwnGrids),
        op(M::GET, "/api/v1/cases", SIGNED_IN, |_, _| at("/api/v1/cases?page_size=5")),
        op(M::GET, "/api/v1/cases/export", EXPORTERS, |_, _| at("/api/v1/cases/export?format=csv")),
        op(M::GET, "/api/v1/cases/{id}", SIGNED_IN, |w, side| at(format!("/api/v1/cases/{}", w.place(side).id)))
            .reach(Reach::Case),
        op(M::GET, "/api/v1/cases/{number}/duplicates", DESK, |w, side| {
            at(format!("/api/v1/cases/{}/duplicates", w.place(side).number))
        })
        .reach(Reach::Case),
        op(M::GET, "/api/v1/cases/{number}/dispatch-hints", CASE_ADVICE, |w, side| {
            at(format!("/api/v1/cases/{}/dispatch-hints", w.place(side).number))
        })
        .reach(Reach::Case),
        op(M::GET, "/api/v1/cases/{number}/reply-check", CASE_ADVICE, |w, side| {
            at(format!("/api/v1/cases/{}/reply-check", w.place(side).number))
        })
        .reach(Reach::Case),
        op(M::POST, "/api/v1/attachments", SIGNED_IN, |w, _| Call {
            path: "/api/v1/attachments".into(),
            body: Body::Raw(png(w.serial)),
        }),
        op(M::GET, "/api/v1/attachments/{hash}", SIGNED_IN, |w, side| {
            at(format!("/api/v1/attachments/{}", w.place(side).attachment))
        })
        .reach(Reach::Case),
        // The smart desk.
        op(M::POST, "/api/v1/classify", CLASSIFIER, |_, _| {
            with("/api/v1/classify", json!({"text": "小区门口井盖丢失了"}))
        }),
        op(M::GET, "/api/v1/classifier/versions", ADMIN, |_, _| at("/api/v1/classifier/versions")),
        op(M::POST, "/api/v1/duplicates", DESK, |_, _| with("/api/v1/duplicates", json!({"title": "垃圾桶满溢"}))),
        op(M::GET, "/api/v1/reply-checks/units", ANALYSTS, |_, _| at("/api/v1/reply-checks/units")),
        op(M::GET, "/api/v1/knowledge", DESK, |_, _| at("/api/v1/knowledge?q=%E5%85%BB%E7%8A%AC")),
        op(M::GET, "/api/v1/knowledge/{id}", DESK, |w, _| at(format!("/api/v1/knowledge/{}", w.article))),
        op(M::POST, "/api/v1/knowledge", ADMIN, |_, _| {
            with("/api/v1/knowledge", json!({"title": "犬只登记", "body": "携带身份证到派出所办理"}))
        }),
        op(M::PUT, "/api/v1/knowledge/{id}", ADMIN, |w, _| {
            with(format!("/api/v1/knowledge/{}", w.article), json!({"title": "犬只登记办法", "body": "携带身份证办理"}))
        }),
        op(M::DELETE, "/api/v1/knowledge/{id}", ADMIN, |w, _| at(format!("/api/v1/knowledge/{}", w.fresh)))
            .fresh(Fresh::Article),
        op(M::POST, "/api/v1/knowledge/import", ADMIN, |_, _| Call {
            path: "/api/v1/knowledge/import?file=kb.md".into(),
            body: Body::Raw("# 燃气报修\n拨打燃气公司热线\n".as_bytes().to_vec()),
        }),
        // Reference data.
        op(M::GET, "/api/v1/units", SIGNED_IN, |_, _| at("/api/v1/units")),
        op(M::PUT, "/api/v1/units/{code}", ADMIN, |_, _| {
            with(
                "/api/v1/units/990100-gov",
                json!({"name": "云湖市人民政府", "kind": "government", "division": "990100"}),
            )
        }),
        op(M::PUT, "/api/v1/users/{username}", ADMIN, |_, _| {
            with("/api/v1/users/leader", json!({"name": "周市长(领导)", "roles": ["leader"]}))
        }),
        op(M::GET, "/api/v1/categories", SIGNED_IN, |_, _| at("/api/v1/categories")),
        op(M::PUT, "/api/v1/categories/{code}", ADMIN, |_, _| {
            with(
                "/api/v1/categories/11001",
                json!({"name": "路灯不亮", "standard": {"limit_amount": 3, "limit_mode": "working_days", "urgency": "normal"}}),
            )
        }),
        op(M::GET, "/api/v1/divisions", SIGNED_IN, |_, _| at("/api/v1/divisions")),
        op(M::GET, "/api/v1/grids", SIGNED_IN, |_, _| at("/api/v1/grids")),
        op(M::GET, "/api/v1/catalogue", SIGNED_IN, |_, _| at("/api/v1/catalogue")),
        op(M::POST, "/api/v1/catalogue", ADMIN, |w, _| {
            with("/api/v1/catalogue", json!({"category": "11001", "lead_unit": w.outside.unit_code}))
        }),
        op(M::DELETE, "/api/v1/catalogue/{id}", ADMIN, |w, _| at(format!("/api/v1/catalogue/{}", w.fresh)))
            .fresh(Fresh::Rule),
        op(M::GET, "/api/v1/calendar", SIGNED_IN, |_, _| at("/api/v1/calendar")),
        op(M::PUT, "/api/v1/calendar/days", ADMIN, |_, _| {
            with("/api/v1/calendar/days", json!({"day": "2026-12-31", "kind": "holiday", "note": "跨年"}))
        }),
        op(M::GET, "/api/v1/users", ADMIN, |_, _| at("/api/v1/users")),
        op(M::POST, "/api/v1/users", ADMIN, |w, _| {
            with(
                "/api/v1/users",
                json!({"username": format!("walker{}", w.serial), "password": "a-long-password-1", "name": "新同事",
                       "roles": ["operator"]}),
            )
        }),
        op(M::GET, "/api/v1/notices", SIGNED_IN, |_, _| at("/api/v1/notices")),
        op(M::GET, "/api/v1/dispatch-preview", SIGNED_IN, |w, _| {
            at(format!("/api/v1/dispatch-preview?category=06005&lat={}&lon={}", w.inside.lat, w.inside.lon))
        }),
        // Oversight of personal data and access.
        op(M::GET, "/api/v1/contact-views", ADMIN, |_, _| at("/api/v1/contact-views")),
        op(M::GET, "/api/v1/access-alerts", ADMIN, |_, _| at("/api/v1/access-alerts")),
        op(M::GET, "/api/v1/access-events", ADMIN, |_, _| at("/api/v1/access-events")),
        // Tokens, client applications, services, webhooks.
        op(M::POST, "/api/v1/api-tokens", ADMIN, |_, _| {
            with("/api/v1/api-tokens", json!({"username": "citizen2", "name": "统计", "days": 1}))
        }),
        op(M::GET, "/api/v1/api-tokens", ADMIN, |_, _| at("/api/v1/api-tokens")),
        op(M::DELETE, "/api/v1/api-tokens/{id}", ADMIN, |w, _| at(format!("/api/v1/api-tokens/{}", w.fresh)))
            .fresh(Fresh::Token),
        op(M::POST, "/api/v1/api-clients", ADMIN, |_, _| with("/api/v1/api-clients", json!({"name": "街道小程序"}))),
        op(M::GET, "/api/v1/api-clients", ADMIN, |_, _| at("/api/v1/api-clients")),
        op(M::DELETE, "/api/v1/api-clients/{id}", ADMIN, |w, _| at(format!("/api/v1/api-clients/{}", w.fresh)))
            .fresh(Fresh::Client),
        op(M::PUT, "/api/v1/services/{code}", ADMIN, |_, _| {
            with("/api/v1/services/06005", json!({"description": "垃圾满溢", "keywords": "垃圾", "attributes": []}))
        }),
        op(M::POST, "/api/v1/webhooks", ADMIN, |_, _| {
            with("/api/v1/webhooks", json!({"url": "https://hooks.example.org/cityloop", "events": ["case.created"]}))
        }),
        op(M::GET, "/api/v1/webhooks", ADMIN, |_, _| at("/api/v1/webhooks")),
        op(M::DELETE, "/api/v1/webhooks/{id}", ADMIN, |w, _| at(format!("/api/v1/webhooks/{}", w.fresh)))
            .fresh(Fresh::Webhook),
        op(M::GET, "/api/v1/webhook-deliveries", ADMIN, |_, _| at("/api/v1/webhook-deliveries")),
        op(M::GET, "/api/v1/webhook-deliveries/{id}", ADMIN, |_, _| at("/api/v1/webhook-deliveries/987654"))
            .reach(Reach::Absent),
        op(M::POST, "/api/v1/webhook-deliveries/{id}/retry", ADMIN, |_, _| {
            with("/api/v1/webhook-deliveries/987654/retry", json!({}))
        })
        .reach(Reach::Absent),
        // Evaluation, signals, topics.
        op(M::GET, "/api/v1/evaluation", EVALUATION, |_, _| at("/api/v1/evaluation?period=2026-11")),
        op(M::GET, "/api/v1/evaluation/export", EVALUATION, |_, _| {
            at("/api/v1/evaluation/export?period=2026-11&format=csv")
        }),
        op(M::GET, "/api/v1/evaluation/cases", EVALUATION, |w, side| {
            at(format!("/api/v1/evaluation/cases?period=2026-11&indicator=hotline&subject={}", w.place(side).unit))
        })
        .reach(Reach::OwnUnit),
        op(M::GET, "/api/v1/signals", ANALYSTS, |_, _| at("/api/v1/signals")),
        op(M::GET, "/api/v1/signals/{id}", ANALYSTS, |w, _| at(format!("/api/v1/signals/{}", w.signal))),
        op(M::POST, "/api/v1/signals/scan", ANALYSTS, |_, _| with("/api/v1/signals/scan", json!({}))),
        op(M::POST, "/api/v1/signals/{id}/state", ANALYSTS, |w, _| {
            with(format!("/api/v1/signals/{}/state", w.signal), json!({"state": "dismissed"}))
        }),
        op(M::GET, "/api/v1/topics/candidates", ANALYSTS, |_, _| at("/api/v1/topics/candidates?period=2026-11")),
        op(M::GET, "/api/v1/topics", ANALYSTS, |_, _| at("/api/v1/topics")),
        op(M::POST, "/api/v1/topics", DECIDERS, |_, _| with("/api/v1/topics", json!({"category": "08001"}))),
        // The machine's own addresses.
        op(M::GET, "/healthz", EVERYONE, |_, _| at("/healthz")),
        op(M::GET, "/metrics", EVERYONE, |_, _| at("/metrics")),
    ]
}

/// The address of the moves, walked move by move.
const MOVE_PATH: &str = "/api/v1/cases/{id}/{move}";

/// A small PNG that differs for each `n` (only its first bytes are looked at).
fn png(n: i64) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(format!("walk {n}").as_bytes());
    bytes
}

async fn send(t: &TestApp, token: Option<&str>, method: Method, call: &Call) -> (StatusCode, String) {
    let mut req = t.client.request(method, t.url(&call.path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req = match &call.body {
        Body::Empty => req,
        Body::Json(v) => req.json(v),
        Body::Raw(bytes) => req.header("X-File-Name", "walk.png").body(bytes.clone()),
        Body::Form(fields) => req.form(fields),
    };
    let r = req.send().await.unwrap();
    (r.status(), r.text().await.unwrap_or_default())
}

async fn ok(t: &TestApp, token: &str, method: Method, call: Call) -> Value {
    let (status, body) = send(t, Some(token), method.clone(), &call).await;
    assert!(status.is_success(), "{method} {}: {status} {body}", call.path);
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// A case reported by `citizen` at (lat, lon), filed, dispatched to `unit` (or by the catalogue),
/// signed by the unit; `handled` also submits its result, which leaves it with a reply check.
async fn make_case(
    t: &TestApp,
    tokens: &Tokens,
    citizen: &str,
    at_: (f64, f64),
    unit: Option<&str>,
    handled: bool,
) -> Place {
    let case = t
        .create(
            &tokens.login(t, citizen).await,
            json!({"channel": "app", "request_type": "complaint", "title": "垃圾桶满溢",
                   "description": "小区门口垃圾桶满了两天没人清运", "location": {"lat": at_.0, "lon": at_.1},
                   "contact": {"name": "张三", "phone": RESIDENT_PHONE}}),
        )
        .await;
    let id = case["id"].as_i64().unwrap();
    t.must(&tokens.login(t, "lead").await, id, "file", json!({"category": "06005"})).await;
    let dispatch = unit.map_or(json!({}), |u| json!({"unit": u}));
    let dispatched = t.must(&tokens.login(t, "dispatcher").await, id, "dispatch", dispatch).await;
    let unit_code = dispatched["unit_code"].as_str().unwrap().to_string();
    let handler = tokens.login(t, &format!("h-{unit_code}")).await;
    t.must(&handler, id, "sign", json!({})).await;
    let operator = tokens.login(t, "operator").await;
    let attachment =
        ok(t, &operator, Method::POST, Call { path: "/api/v1/attachments".into(), body: Body::Raw(png(-id)) }).await
            ["hash"]
            .as_str()
            .unwrap()
            .to_string();
    t.must(&operator, id, "comment", json!({"note": "现场照片", "attachments": [attachment]})).await;
    if handled {
        t.must(&handler, id, "submit", json!({"result": "已于今日上午由环卫所清运完毕, 并增加清运频次"})).await;
    }
    Place {
        id,
        number: case["number"].as_str().unwrap().to_string(),
        lat: at_.0,
        lon: at_.1,
        unit: dispatched["unit"].as_i64().unwrap(),
        unit_code,
        attachment,
    }
}

/// Sign-ins made once and reused.
#[derive(Default)]
struct Tokens(std::sync::Mutex<HashMap<String, String>>);

impl Tokens {
    async fn login(&self, t: &TestApp, username: &str) -> String {
        if let Some(token) = self.0.lock().unwrap().get(username) {
            return token.clone();
        }
        let token = t.login(username).await;
        self.0.lock().unwrap().insert(username.to_string(), token.clone());
        token
    }
}

/// A new sign-in of `caller`: a password sign-in, or for a data recipient a token an administrator
/// issues it with a filter.
async fn sign_in(t: &TestApp, admin: &str, caller: Caller, username: &str) -> String {
    if caller != Recipient {
        return t.login(username).await;
    }
    let issued = json!({"username": username, "name": "统计局", "days": 1, "export_filter": "category=06"});
    ok(t, admin, Method::POST, with("/api/v1/api-tokens", issued)).await["token"].as_str().unwrap().to_string()
}

/// The demo city's parts the walk needs: two cases in different districts, streets, units and
/// residents' hands, a knowledge article and a risk signal.
async fn world(t: &TestApp, tokens: &Tokens) -> World {
    let admin = tokens.login(t, "admin").await;
    let grids = ok(t, &admin, Method::GET, at("/api/v1/grids")).await;
    let divisions = ok(t, &admin, Method::GET, at("/api/v1/divisions")).await;
    let units = ok(t, &admin, Method::GET, at("/api/v1/units")).await;
    let parent_of = |code: &str| -> String {
        let d = divisions.as_array().unwrap().iter().find(|d| d["code"] == code).expect("a division");
        d["parent"].as_str().unwrap().to_string()
    };
    let street_of_grid = |g: &Value| parent_of(g["community"].as_str().unwrap());
    let district_of_grid = |g: &Value| parent_of(&street_of_grid(g));
    let grids = grids.as_array().unwrap();
    // inspector1's grids are the first district's.
    let (inside_grid, outside_grid) = (
        &grids[0],
        grids
            .iter()
            .rev()
            .find(|g| district_of_grid(g) != district_of_grid(&grids[0]))
            .expect("a grid in another district"),
    );
    let centroid = |g: &Value| (g["centroid"]["lat"].as_f64().unwrap(), g["centroid"]["lon"].as_f64().unwrap());
    let street_office = |street: String| -> String {
        let u = units
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["kind"] == "street_office" && u["division"] == street.as_str())
            .expect("a street office");
        u["code"].as_str().unwrap().to_string()
    };
    let inside = make_case(t, tokens, "citizen", centroid(inside_grid), None, true).await;
    let outside_office = street_office(street_of_grid(outside_grid));
    let outside = make_case(t, tokens, "citizen2", centroid(outside_grid), Some(&outside_office), true).await;
    assert_ne!(inside.unit_code, outside.unit_code);

    let mut usernames: HashMap<Caller, String> = [
        (Admin, "admin"),
        (Operator, "operator"),
        (Lead, "lead"),
        (Dispatcher, "dispatcher"),
        (Inspector, "inspector1"),
        (Leader, "leader"),
        (Citizen, "citizen"),
        (Recipient, "recipient"),
    ]
    .into_iter()
    .map(|(c, u)| (c, u.to_string()))
    .collect();
    usernames.insert(Handler, format!("h-{}", inside.unit_code));
    usernames.insert(Coordinator, format!("c-{}", street_office(street_of_grid(inside_grid))));
    let mut signed_in = HashMap::new();
    for (caller, username) in &usernames {
        signed_in.insert(*caller, sign_in(t, &admin, *caller, username).await);
    }
    // A data recipient has no password way in: its tokens carry its filter.
    let by_password =
        t.post(None, "/api/v1/auth/login", json!({"username": "recipient", "password": DEMO_PASSWORD})).await;
    assert_eq!(by_password.status, StatusCode::FORBIDDEN, "{}", by_password.body);

    let article = ok(
        t,
        &admin,
        Method::POST,
        with("/api/v1/knowledge", json!({"title": "养犬登记", "body": "到派出所办理养犬登记证"})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    // A watch word raises a signal at once.
    let operator = tokens.login(t, "operator").await;
    t.create(
        &operator,
        json!({"channel": "hotline", "request_type": "help", "title": "讨要工资",
               "description": "工地老板拖欠工资半年, 工友们说要去围堵项目部", "category": "06005"}),
    )
    .await;
    let signals = ok(t, &signed_in[&Leader], Method::GET, at("/api/v1/signals")).await;
    let signal = signals[0]["id"].as_i64().expect("a watch-word signal");
    World {
        tokens: signed_in,
        usernames,
        inside,
        outside,
        article,
        signal,
        fresh: String::new(),
        serial: 0,
        caller: Anonymous,
        others_view: 0,
    }
}

/// The case a move is tried on: an allowed move changes its case, so it gets one of its own, like
/// the walk's case on that side.
async fn move_target(t: &TestApp, tokens: &Tokens, w: &World, side: Side, want: Told) -> Place {
    let like = w.place(side).clone();
    if want != Told::Served {
        return like;
    }
    let citizen = if side == Side::Inside { "citizen" } else { "citizen2" };
    make_case(t, tokens, citizen, (like.lat, like.lon), Some(&like.unit_code), false).await
}

/// Makes what an allowed call of `fresh` needs and returns its id.
async fn make_fresh(t: &TestApp, w: &World, fresh: Fresh, n: i64) -> String {
    let admin = &w.tokens[&Admin];
    let (path, body) = match fresh {
        Fresh::Nothing | Fresh::SignIn => return String::new(),
        Fresh::Article => ("/api/v1/knowledge", json!({"title": format!("临时条目{n}"), "body": "正文"})),
        Fresh::Rule => ("/api/v1/catalogue", json!({"category": "11001", "lead_unit": w.outside.unit_code})),
        Fresh::Token => ("/api/v1/api-tokens", json!({"username": "citizen2", "name": format!("t{n}"), "days": 1})),
        Fresh::Client => ("/api/v1/api-clients", json!({"name": format!("应用{n}")})),
        Fresh::Webhook => {
            ("/api/v1/webhooks", json!({"url": "https://hooks.example.org/x", "events": ["case.overdue"]}))
        }
    };
    let made = ok(t, admin, Method::POST, with(path, body)).await;
    match &made["id"] {
        Value::String(id) => id.clone(),
        Value::Number(id) => id.to_string(),
        _ => panic!("{path} answers with an id: {made}"),
    }
}

/// Walks it all; returns how many calls were checked.
async fn walk(t: &TestApp) -> usize {
    let tokens = Tokens::default();
    let mut w = world(t, &tokens).await;
    let mut wrong = Vec::new();
    let mut checked = 0;

    // The table covers the document exactly.
    let doc = t.get(None, "/api/v1/openapi.json").await.ok();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let ops = ops();
    let mut walked: BTreeSet<String> = ops.iter().map(|o| format!("{} {}", o.method, o.path)).collect();
    walked.insert(format!("POST {MOVE_PATH}"));
    assert_eq!(documented, walked, "every documented operation is walked, and only those");

    for op in &ops {
        for caller in CALLERS {
            for &side in op.sides() {
                let want = op.expected(caller, side);
                w.serial += 1;
                w.caller = caller;
                let token = match (op.fresh, caller) {
                    (_, Anonymous) => None,
                    (Fresh::SignIn, _) => Some(sign_in(t, &w.tokens[&Admin], caller, &w.usernames[&caller]).await),
                    _ => Some(w.tokens[&caller].clone()),
                };
                w.fresh = if want == Told::Served { make_fresh(t, &w, op.fresh, w.serial).await } else { "1".into() };
                let call = (op.call)(&w, side);
                let (status, body) = send(t, token.as_deref(), op.method.clone(), &call).await;
                assert!(
                    !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
                    "{} {}: {status} {body}",
                    op.method,
                    call.path
                );
                checked += 1;
                if told(status) != want {
                    wrong.push(format!(
                        "{:?} {side:?}: {} {} answered {status}, expected {want:?}: {body}",
                        caller, op.method, call.path
                    ));
                }
            }
        }
    }

    // Every move a person makes, on a case of each side.
    let people_moves: BTreeSet<&str> = MoveKind::ALL.iter().filter(|k| !k.is_system()).map(|k| k.as_str()).collect();
    let tabled: BTreeSet<&str> = MOVES.iter().map(|(m, _)| *m).collect();
    assert_eq!(people_moves, tabled, "every move a person makes is walked");
    for (name, grants) in MOVES {
        for caller in CALLERS {
            for side in [Side::Inside, Side::Outside] {
                let want = move_expected(grants, caller, side);
                let place = move_target(t, &tokens, &w, side, want).await;
                let token = (caller != Anonymous).then(|| w.tokens[&caller].clone());
                let call = with(format!("/api/v1/cases/{}/{name}", place.id), json!({}));
                let (status, body) = send(t, token.as_deref(), Method::POST, &call).await;
                assert!(!status.is_server_error(), "{}: {status} {body}", call.path);
                checked += 1;
                if told(status) != want {
                    wrong
                        .push(format!("{caller:?} {side:?}: move {name} answered {status}, expected {want:?}: {body}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {checked} calls answered otherwise:\n{}", wrong.len(), wrong.join("\n"));
    checked
}

// ---- The pages: the same roles, answered in HTML (a sign-in page for nobody, a 403 or 404 page) ----

const DESK_PAGE: &[Caller] = &[Admin, Dispatcher];
const WORKBENCH: &[Caller] = &[Admin, Operator];
const UNIT_STAFF: &[Caller] = &[Handler, Coordinator];
const INSPECTORS: &[Caller] = &[Inspector];
const DISPATCHERS: &[Caller] = &[Dispatcher];

fn form(path: impl Into<String>, fields: &[(&'static str, &str)]) -> Call {
    Call { path: path.into(), body: Body::Form(fields.iter().map(|(k, v)| (*k, v.to_string())).collect()) }
}

/// Every page route, as `crates/cityloop-web/src/lib.rs` declares it.
fn pages() -> Vec<Op> {
    use Method as M;
    vec![
        op(M::GET, "/", EVERYONE, |_, _| at("/")),
        op(M::GET, "/login", EVERYONE, |_, _| at("/login")),
        op(M::POST, "/login", EVERYONE, |_, _| {
            form("/login", &[("username", "citizen2"), ("password", DEMO_PASSWORD)])
        })
        .fresh(Fresh::SignIn),
        op(M::POST, "/logout", EVERYONE, |_, _| form("/logout", &[])).fresh(Fresh::SignIn),
        op(M::GET, "/lang/{code}", EVERYONE, |_, _| at("/lang/zh-CN")),
        op(M::GET, "/assets/app.css", EVERYONE, |_, _| at("/assets/app.css")),
        op(M::GET, "/assets/app.js", EVERYONE, |_, _| at("/assets/app.js")),
        op(M::GET, "/maps/city.svg", EVERYONE, |_, _| at("/maps/city.svg")),
        op(M::GET, "/account", SIGNED_IN, |_, _| at("/account")),
        op(M::POST, "/account/totp", SIGNED_IN, |_, _| form("/account/totp", &[("password", DEMO_PASSWORD)])),
        op(M::POST, "/account/password", SIGNED_IN, |_, _| {
            form(
                "/account/password",
                &[("current_password", DEMO_PASSWORD), ("new_password", "short"), ("new_password_again", "short")],
            )
        }),
        op(M::POST, "/account/totp/confirm", SIGNED_IN, |_, _| form("/account/totp/confirm", &[("code", "000000")])),
        op(M::POST, "/account/totp/off", SIGNED_IN, |_, _| form("/account/totp/off", &[("code", "000000")])),
        op(M::GET, "/files/{hash}", SIGNED_IN, |w, side| at(format!("/files/{}", w.place(side).attachment)))
            .reach(Reach::Case),
        op(M::GET, "/intake", WORKBENCH, |_, _| at("/intake")),
        op(M::POST, "/intake", WORKBENCH, |_, _| form("/intake", &[("title", "井盖丢失")])),
        op(M::GET, "/intake/caller", WORKBENCH, |_, _| at("/intake/caller?phone=13800001111")),
        op(M::GET, "/intake/preview", SIGNED_IN, |_, _| at("/intake/preview?category=06005")),
        op(M::GET, "/intake/suggest", CLASSIFIER, |_, _| {
            at("/intake/suggest?title=%E5%B0%8F%E5%8C%BA%E4%BA%95%E7%9B%96%E4%B8%A2%E5%A4%B1")
        }),
        op(M::GET, "/intake/similar", DESK, |_, _| {
            at("/intake/similar?title=%E5%B0%8F%E5%8C%BA%E4%BA%95%E7%9B%96%E4%B8%A2%E5%A4%B1")
        }),
        op(M::GET, "/intake/knowledge", DESK, |_, _| {
            at("/intake/knowledge?title=%E5%85%BB%E7%8A%AC%E7%99%BB%E8%AE%B0")
        }),
        op(M::GET, "/replies", ANALYSTS, |_, _| at("/replies")),
        op(M::GET, "/cases", SIGNED_IN, |_, _| at("/cases")),
        op(M::GET, "/cases/export", SIGNED_IN, |_, _| at("/cases/export?format=csv")),
        op(M::POST, "/cases/views", SIGNED_IN, |w, _| {
            form("/cases/views", &[("name", &format!("视图{}", w.serial)), ("query", "state=handling")])
        }),
        // Someone else's saved view: nobody else may delete it.
        op(M::POST, "/cases/views/{id}/delete", SIGNED_IN, |w, _| {
            form(format!("/cases/views/{}/delete", w.others_view), &[])
        })
        .reach(Reach::Absent),
        op(M::GET, "/cases/{number}", SIGNED_IN, |w, side| at(format!("/cases/{}", w.place(side).number)))
            .reach(Reach::Case),
        op(M::GET, "/desk", DESK_PAGE, |_, _| at("/desk")),
        op(M::POST, "/desk/dispatch", DISPATCHERS, |_, _| form("/desk/dispatch", &[])),
        op(M::GET, "/inbox", UNIT_STAFF, |_, _| at("/inbox")),
        op(M::GET, "/inspector", INSPECTORS, |_, _| at("/inspector")),
        op(M::POST, "/inspector", INSPECTORS, |w, side| {
            let p = w.place(side);
            form(
                "/inspector",
                &[
                    ("title", "井盖缺失"),
                    ("description", "人行道井盖缺失"),
                    ("lat", &p.lat.to_string()),
                    ("lon", &p.lon.to_string()),
                ],
            )
        })
        .reach(Reach::OwnGrids),
        op(M::GET, "/leader", ANALYSTS, |_, _| at("/leader")),
        op(M::GET, "/evaluation", EVALUATION, |_, _| at("/evaluation?period=2026-11")),
        op(M::GET, "/evaluation/export", EVALUATION, |_, _| at("/evaluation/export?period=2026-11&format=csv")),
        op(M::GET, "/evaluation/cases", EVALUATION, |w, side| {
            at(format!("/evaluation/cases?period=2026-11&indicator=hotline&subject={}", w.place(side).unit))
        })
        .reach(Reach::OwnUnit),
        op(M::GET, "/signals", ANALYSTS, |_, _| at("/signals")),
        op(M::POST, "/signals/scan", ANALYSTS, |_, _| form("/signals/scan", &[])),
        op(M::POST, "/signals/{id}/state", ANALYSTS, |w, _| {
            form(format!("/signals/{}/state", w.signal), &[("state", "dismissed")])
        }),
        op(M::GET, "/topics", ANALYSTS, |_, _| at("/topics")),
        op(M::POST, "/topics", DECIDERS, |_, _| form("/topics", &[("category", "08002")])),
        op(M::GET, "/admin", ADMIN, |_, _| at("/admin")),
        op(M::GET, "/admin/units", ADMIN, |_, _| at("/admin/units")),
        op(M::POST, "/admin/units", ADMIN, |_, _| form("/admin/units", &[])),
        op(M::GET, "/admin/units/{code}", ADMIN, |_, _| at("/admin/units/990100-gov")),
        op(M::POST, "/admin/units/{code}", ADMIN, |_, _| form("/admin/units/990100-gov", &[])),
        op(M::GET, "/admin/users", ADMIN, |_, _| at("/admin/users")),
        op(M::POST, "/admin/users", ADMIN, |_, _| form("/admin/users", &[])),
        op(M::POST, "/admin/users/account", ADMIN, |_, _| form("/admin/users/account", &[])),
        op(M::GET, "/admin/users/{username}", ADMIN, |_, _| at("/admin/users/leader")),
        op(M::POST, "/admin/users/{username}", ADMIN, |_, _| form("/admin/users/leader", &[])),
        op(M::GET, "/admin/categories", ADMIN, |_, _| at("/admin/categories")),
        op(M::POST, "/admin/categories", ADMIN, |_, _| form("/admin/categories", &[])),
        op(M::GET, "/admin/categories/{code}", ADMIN, |_, _| at("/admin/categories/11001")),
        op(M::POST, "/admin/categories/{code}", ADMIN, |_, _| form("/admin/categories/11001", &[])),
        op(M::GET, "/admin/catalogue", ADMIN, |_, _| at("/admin/catalogue")),
        op(M::POST, "/admin/catalogue", ADMIN, |_, _| form("/admin/catalogue", &[])),
        op(M::POST, "/admin/catalogue/{id}/delete", ADMIN, |w, _| {
            form(format!("/admin/catalogue/{}/delete", w.fresh), &[])
        })
        .fresh(Fresh::Rule),
        op(M::GET, "/admin/grids", ADMIN, |_, _| at("/admin/grids")),
        op(M::POST, "/admin/grids", ADMIN, |_, _| form("/admin/grids", &[])),
        op(M::GET, "/admin/divisions", ADMIN, |_, _| at("/admin/divisions")),
        op(M::GET, "/admin/calendar", ADMIN, |_, _| at("/admin/calendar")),
        op(M::POST, "/admin/calendar", ADMIN, |_, _| form("/admin/calendar", &[])),
        op(M::GET, "/admin/knowledge", ADMIN, |_, _| at("/admin/knowledge")),
        op(M::POST, "/admin/knowledge", ADMIN, |_, _| form("/admin/knowledge", &[])),
        op(M::GET, "/admin/knowledge/{id}", ADMIN, |w, _| at(format!("/admin/knowledge/{}", w.article))),
        op(M::POST, "/admin/knowledge/{id}", ADMIN, |w, _| form(format!("/admin/knowledge/{}", w.article), &[])),
        op(M::POST, "/admin/knowledge/import", ADMIN, |_, _| form("/admin/knowledge/import", &[])),
        op(M::POST, "/admin/knowledge/{id}/delete", ADMIN, |w, _| {
            form(format!("/admin/knowledge/{}/delete", w.fresh), &[])
        })
        .fresh(Fresh::Article),
        op(M::GET, "/admin/classifier", ADMIN, |_, _| at("/admin/classifier")),
        op(M::POST, "/admin/classifier", ADMIN, |_, _| form("/admin/classifier", &[])),
        op(M::GET, "/admin/webhooks", ADMIN, |_, _| at("/admin/webhooks")),
        op(M::POST, "/admin/webhooks", ADMIN, |_, _| form("/admin/webhooks", &[])),
        op(M::GET, "/admin/access", ADMIN, |_, _| at("/admin/access")),
        op(M::POST, "/admin/webhooks/{id}/disable", ADMIN, |w, _| {
            form(format!("/admin/webhooks/{}/disable", w.fresh), &[])
        })
        .fresh(Fresh::Webhook),
        op(M::POST, "/admin/webhooks/deliveries/{id}/retry", ADMIN, |_, _| {
            form("/admin/webhooks/deliveries/987654/retry", &[])
        })
        .reach(Reach::Absent),
        // The residents' portal needs no account.
        op(M::GET, "/portal", EVERYONE, |_, _| at("/portal")),
        op(M::POST, "/portal", EVERYONE, |_, _| {
            form(
                "/portal",
                &[
                    ("title", "路灯不亮"),
                    ("description", "小区东门路灯坏了一周"),
                    ("request_type", "complaint"),
                    ("phone", "13800002222"),
                ],
            )
        }),
        op(M::GET, "/portal/track", EVERYONE, |_, _| at("/portal/track")),
        op(M::POST, "/portal/track", EVERYONE, |w, _| {
            form("/portal/track", &[("number", &w.inside.number), ("phone", RESIDENT_PHONE)])
        }),
        op(M::POST, "/portal/rate", EVERYONE, |w, _| {
            form(
                "/portal/rate",
                &[
                    ("number", &w.inside.number),
                    ("phone", RESIDENT_PHONE),
                    ("solved", "true"),
                    ("satisfaction", "satisfied"),
                ],
            )
        }),
        op(M::POST, "/portal/reopen", EVERYONE, |w, _| {
            form("/portal/reopen", &[("number", &w.inside.number), ("phone", RESIDENT_PHONE)])
        }),
        op(M::GET, "/portal/requests", EVERYONE, |_, _| at("/portal/requests")),
    ]
}

/// The page routes the web crate declares: `(METHOD, path)`.
fn declared_pages() -> BTreeSet<String> {
    let source = include_str!("../../../cityloop-web/src/lib.rs");
    let mut out = BTreeSet::new();
    for line in source.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
        let path = line.trim_start_matches(".route(\"").split('"').next().unwrap();
        for method in ["get", "post"] {
            if line.contains(&format!("{method}(")) {
                out.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    out
}

/// A visitor without an account: the id cookie a first visit gets.
const VISITOR: &str = "0123456789abcdef0123456789abcdef";

/// What a page tells: a redirect to the sign-in page asks to sign in.
fn page_told(status: StatusCode, location: Option<&str>) -> Told {
    match (status, location) {
        (StatusCode::SEE_OTHER, Some(to)) if to.starts_with("/login?next=") => Told::SignIn,
        _ => told(status),
    }
}

async fn send_page(
    t: &TestApp,
    client: &reqwest::Client,
    session: Option<&str>,
    method: Method,
    call: &Call,
) -> (StatusCode, Option<String>) {
    let cookie = session.map_or(format!("cl_anon={VISITOR}"), |s| format!("cl_session={s}"));
    let csrf = cityloop_web::session::csrf_token(session.unwrap_or(VISITOR));
    let mut req = client.request(method, t.url(&call.path)).header("cookie", cookie);
    if let Body::Form(fields) = &call.body {
        let mut fields = fields.clone();
        fields.push(("_csrf", csrf));
        req = req.form(&fields);
    }
    let r = req.send().await.unwrap();
    let location = r.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_string);
    (r.status(), location)
}

async fn walk_pages(t: &TestApp) -> usize {
    let tokens = Tokens::default();
    let mut w = world(t, &tokens).await;
    let colleague = t.app.authenticate(&t.login("operator2").await).await.unwrap();
    t.app.save_view(&colleague, "我的待办", "state=handling").await.unwrap();
    w.others_view = t.app.saved_views(&colleague).await.unwrap()[0].id;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let pages = pages();
    let walked: BTreeSet<String> =
        pages.iter().map(|o| format!("{} {}", o.method, o.path)).chain([format!("POST {PAGE_MOVES}")]).collect();
    assert_eq!(declared_pages(), walked, "every page route is walked, and only those");
    let mut wrong = Vec::new();
    let mut checked = 0;
    for page in &pages {
        for caller in CALLERS {
            for &side in page.sides() {
                let want = page.expected(caller, side);
                w.serial += 1;
                let session = match (page.fresh, caller) {
                    (_, Anonymous) => None,
                    (Fresh::SignIn, _) if page.path == "/login" => None,
                    (Fresh::SignIn, _) => Some(sign_in(t, &w.tokens[&Admin], caller, &w.usernames[&caller]).await),
                    _ => Some(w.tokens[&caller].clone()),
                };
                w.fresh = if want == Told::Served { make_fresh(t, &w, page.fresh, w.serial).await } else { "1".into() };
                let call = (page.call)(&w, side);
                let (status, location) = send_page(t, &client, session.as_deref(), page.method.clone(), &call).await;
                assert!(!status.is_server_error(), "{:?}: {} {}: {status}", caller, page.method, call.path);
                checked += 1;
                if page_told(status, location.as_deref()) != want {
                    wrong.push(format!(
                        "{caller:?} {side:?}: {} {} answered {status} {location:?}, expected {want:?}",
                        page.method, call.path
                    ));
                }
            }
        }
    }
    for (name, grants) in MOVES {
        for caller in CALLERS {
            for side in [Side::Inside, Side::Outside] {
                let want = move_expected(grants, caller, side);
                let place = move_target(t, &tokens, &w, side, want).await;
                let session = (caller != Anonymous).then(|| w.tokens[&caller].clone());
                let call = form(format!("/cases/{}/moves/{name}", place.number), &[]);
                let (status, location) = send_page(t, &client, session.as_deref(), Method::POST, &call).await;
                assert!(!status.is_server_error(), "{}: {status}", call.path);
                checked += 1;
                if page_told(status, location.as_deref()) != want {
                    wrong.push(format!(
                        "{caller:?} {side:?}: page move {name} answered {status} {location:?}, expected {want:?}"
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {checked} page calls answered otherwise:\n{}", wrong.len(), wrong.join("\n"));
    checked
}

/// The address of a move made from a case's page.
const PAGE_MOVES: &str = "/cases/{number}/moves/{kind}";

#[tokio::test]
async fn every_operation_and_page_answers_each_role_inside_and_outside_its_part_of_the_city() {
    on_every_engine(|t| async move {
        let (api, pages) = (walk(&t).await, walk_pages(&t).await);
        // The counts are in docs/workflow.md.
        eprintln!("permission walk: {api} API calls and {pages} page calls checked (operation × role × scope)");
        assert!(api > 1_000 && pages > 1_000, "{api} {pages}");
    })
    .await;
}
