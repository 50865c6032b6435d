-- Webhooks: other systems subscribe to case events; each event becomes one delivery per subscription,
-- signed with the subscription's secret and retried with backoff until delivered or dead.
create table webhooks (
    id integer primary key,
    url text not null,
    events text not null,
    description text not null default '',
    secret text not null,
    -- Whether deliveries may go to private, loopback or link-local addresses (an administrator's choice).
    allow_private integer not null default 0,
    active integer not null default 1,
    -- The last flow record turned into deliveries; a new subscription starts at the newest one.
    flow_cursor integer not null default 0,
    created_by integer,
    created_at integer not null
);

create table webhook_deliveries (
    id integer primary key,
    webhook_id integer not null references webhooks(id),
    event text not null,
    -- Stable per event (e.g. `flow-123`): receivers use it to drop repeats.
    event_id text not null,
    case_id integer,
    payload text not null,
    -- pending, delivered or dead
    state text not null,
    attempts integer not null default 0,
    next_attempt_at integer not null,
    -- A node sending the delivery holds it until then under its token; only the holder records the outcome.
    lease_token text,
    lease_until integer,
    last_status integer,
    last_error text,
    created_at integer not null,
    delivered_at integer
);
create unique index webhook_deliveries_event on webhook_deliveries(webhook_id, event_id);
create index webhook_deliveries_due on webhook_deliveries(state, next_attempt_at);

create table webhook_attempts (
    id integer primary key,
    delivery_id integer not null references webhook_deliveries(id),
    at integer not null,
    status integer,
    error text,
    duration_ms integer not null
);
create index webhook_attempts_delivery on webhook_attempts(delivery_id, id);
