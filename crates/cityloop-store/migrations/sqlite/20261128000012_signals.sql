-- Risk signals. New cases are counted per local day, category and place (their grid and every division
-- above them) by the same counter as the evaluation, so that a scan reads a few weeks of counts
-- instead of the cases.
create table area_counts (
    -- 'grid' or 'division'
    area_kind text not null,
    area_id integer not null,
    category_id integer not null,
    -- local date as yyyymmdd
    day integer not null,
    n integer not null,
    primary key (area_kind, area_id, category_id, day)
) without rowid;
create index area_counts_day on area_counts(day);

create table signals (
    id integer primary key,
    -- concentrated, rising, emerging or watch_word
    kind text not null,
    -- What makes the signal the same one when a scan sees it again (kind, place, category, week or case).
    signature text not null unique,
    score real not null,
    title text not null,
    explanation text not null,
    category_id integer,
    area_kind text,
    area_id integer,
    word text,
    -- the days (yyyymmdd) the signal looks at
    day_from integer not null,
    day_to integer not null,
    -- the ids of the cases behind it (JSON list, at most 200)
    cases text not null default '[]',
    case_count integer not null,
    -- open, task (a supervision task was opened), topic (taken up as 每月一题) or dismissed
    state text not null default 'open',
    created_at integer not null,
    updated_at integer not null
);
create index signals_state_created on signals(state, created_at);
