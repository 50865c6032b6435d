-- The resident's own rating on the portal (one per closing) and saved case-list views per user.
alter table cases add column rated integer not null default 0;

create table saved_views (
    id integer primary key,
    user_id integer not null references users(id),
    name text not null,
    query text not null,
    created_at integer not null,
    unique (user_id, name)
);
