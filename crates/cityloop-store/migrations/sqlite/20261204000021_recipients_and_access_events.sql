-- Tokens for data recipients (docs/api.md#api-tokens-for-departments-own-systems): a token with an export filter may only export cases,
-- without residents' contact data, and always with that filter over its own.
alter table tokens add column export_filter text;

-- What unusual-access alerts are raised from besides contact views: exports (amount = cases), sign-ins
-- (with the client's address) and answers that refused a signed-in user (403).
create table access_events (
    id integer primary key,
    kind text not null,
    user_id bigint not null,
    username text not null,
    at bigint not null,
    address text,
    detail text not null,
    amount bigint not null
);
create index access_events_kind_at on access_events(kind, at);
create index access_events_user on access_events(user_id, kind, at);
