-- Core schema: places, organisations, people, categories, catalogue, calendar, cases and their flow.
-- Timestamps are milliseconds since the Unix epoch (UTC); flags are 0/1 integers; lists are JSON text.

create table settings (
    key text primary key,
    value text not null
);

create table divisions (
    id integer primary key,
    code text not null unique,
    name text not null,
    level text not null,
    parent_id integer references divisions(id)
);
create index divisions_parent on divisions(parent_id);

create table units (
    id integer primary key,
    code text not null unique,
    name text not null,
    kind text not null,
    parent_id integer references units(id),
    division_id integer references divisions(id)
);
create index units_parent on units(parent_id);

create table grids (
    id integer primary key,
    code text not null unique,
    name text not null,
    division_id integer references divisions(id),
    geometry text not null,
    centroid_lat real not null,
    centroid_lon real not null
);

create table categories (
    id integer primary key,
    code text not null unique,
    name text not null,
    parent_id integer references categories(id),
    limit_amount integer,
    limit_mode text,
    urgency text,
    filing_condition text,
    closing_condition text
);
create index categories_parent on categories(parent_id);

create table catalogue (
    id integer primary key,
    category_id integer not null references categories(id),
    division_id integer references divisions(id),
    lead_unit_id integer not null references units(id),
    assisting_units text not null default '[]'
);
create index catalogue_category on catalogue(category_id);

create table calendar_days (
    day text primary key,
    kind text not null,
    note text not null default ''
);

create table users (
    id integer primary key,
    username text not null unique,
    name text not null,
    password_hash text not null,
    roles text not null,
    unit_id integer references units(id),
    active integer not null default 1,
    created_at integer not null
);

create table user_grids (
    user_id integer not null references users(id),
    grid_id integer not null references grids(id),
    primary key (user_id, grid_id)
);

create table tokens (
    token_hash text primary key,
    user_id integer not null references users(id),
    created_at integer not null,
    expires_at integer not null,
    revoked_at integer
);
create index tokens_user on tokens(user_id);

create table case_numbers (
    day integer primary key,
    last integer not null
);

create table cases (
    id integer primary key,
    number text not null unique,
    state text not null,
    version integer not null,
    channel text not null,
    request_type text not null,
    title text not null,
    description text not null,
    category_id integer references categories(id),
    urgency text not null,
    lat real,
    lon real,
    address text,
    grid_id integer references grids(id),
    division_id integer references divisions(id),
    contact_name text,
    contact_phone text,
    confidential integer not null default 0,
    reporter_id integer references users(id),
    unit_id integer references units(id),
    assisting_units text not null default '[]',
    first_unit_id integer references units(id),
    limit_amount integer,
    limit_mode text,
    deadline integer,
    overdue_at integer,
    extensions integer not null default 0,
    suspensions integer not null default 0,
    suspended_at integer,
    suspended_until integer,
    pending text,
    returns integer not null default 0,
    reworks integer not null default 0,
    reopens integer not null default 0,
    supervision_level integer not null default 0,
    escalations integer not null default 0,
    master_id integer references cases(id),
    result text,
    revisit_contacted integer,
    revisit_solved integer,
    revisit_satisfaction text,
    created_at integer not null,
    updated_at integer not null,
    closed_at integer
);
create index cases_state_created on cases(state, created_at);
create index cases_unit_state_deadline on cases(unit_id, state, deadline);
create index cases_state_deadline on cases(state, deadline);
create index cases_grid_created on cases(grid_id, created_at);
create index cases_division_created on cases(division_id, created_at);
create index cases_category_created on cases(category_id, created_at);
create index cases_created on cases(created_at);
create index cases_reporter on cases(reporter_id);
create index cases_master on cases(master_id);
create index cases_phone on cases(contact_phone);

create table case_assists (
    case_id integer not null references cases(id),
    unit_id integer not null references units(id),
    primary key (case_id, unit_id)
);
create index case_assists_unit on case_assists(unit_id);

create table flow (
    id integer primary key,
    case_id integer not null references cases(id),
    kind text not null,
    from_state text,
    to_state text not null,
    actor_id integer,
    actor_name text not null,
    role text,
    unit_id integer,
    at integer not null,
    note text,
    attachments text not null default '[]',
    data text not null default 'null'
);
create index flow_case on flow(case_id, id);

create table attachments (
    hash text primary key,
    content_type text not null,
    size integer not null,
    file_name text not null,
    uploaded_by integer,
    created_at integer not null
);

create table notices (
    id integer primary key,
    case_id integer not null references cases(id),
    unit_id integer,
    level integer not null,
    overdue integer not null,
    message text not null,
    created_at integer not null
);
create index notices_case on notices(case_id);
create index notices_unit on notices(unit_id, created_at);

create table whistles (
    id integer primary key,
    case_id integer not null references cases(id),
    unit_id integer not null references units(id),
    summoned_at integer not null,
    report_by integer not null,
    reported_at integer,
    unique (case_id, unit_id)
);
create index whistles_unit on whistles(unit_id);

create table idempotency_keys (
    user_id integer not null,
    key text not null,
    case_id integer not null references cases(id),
    created_at integer not null,
    primary key (user_id, key)
);
