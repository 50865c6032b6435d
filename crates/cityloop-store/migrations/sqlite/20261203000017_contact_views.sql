-- Every time a user is shown a resident's contact data in clear (docs/privacy.md): who, which case,
-- when, and in the course of what (opening the case, a list or search, a move).
create table contact_views (
    id integer primary key,
    user_id integer not null,
    username text not null,
    case_id integer not null,
    at integer not null,
    purpose text not null
);
create index contact_views_user on contact_views(user_id, at);
create index contact_views_case on contact_views(case_id, at);
create index contact_views_at on contact_views(at);
