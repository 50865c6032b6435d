-- Unusual access (docs/api.md#residents-contact-data): a user shown far more residents' contact data
-- on a day than their own daily average. One alert per kind, user and local day, kept up to date.
create table access_alerts (
    id integer primary key,
    kind text not null,
    user_id bigint not null,
    username text not null,
    day text not null,
    count bigint not null,
    baseline real not null,
    raised_at bigint not null,
    updated_at bigint not null,
    unique (kind, user_id, day)
);
