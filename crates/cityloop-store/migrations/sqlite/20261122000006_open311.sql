-- Open311: client applications with API keys, and what a category tells residents' apps (description,
-- keywords, extra questions).
create table api_clients (
    id integer primary key,
    name text not null,
    -- SHA-256 of the key, hex: the key itself is shown once, when the client is registered.
    key_hash text not null unique,
    contact text not null default '',
    created_at integer not null,
    revoked_at integer
);

create table service_details (
    category_id integer primary key references categories(id),
    description text not null default '',
    keywords text not null default ''
);

create table service_questions (
    id integer primary key,
    category_id integer not null references categories(id),
    code text not null,
    -- string, number, datetime, text, singlevaluelist, multivaluelist
    datatype text not null,
    required integer not null,
    -- 0: text shown to the resident, not a question
    variable integer not null default 1,
    description text not null,
    datatype_description text not null default '',
    position integer not null,
    -- JSON list of {"key", "name"}
    choices text not null default '[]',
    unique (category_id, code)
);

-- Incremental sync (`updated_after`) of Open311 clients and other systems.
create index cases_updated on cases(updated_at);

-- What happened to requests in a window (Open311 servicerequestupdates).
create index flow_at on flow(at);
