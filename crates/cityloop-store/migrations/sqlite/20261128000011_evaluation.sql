-- Evaluation rollups: what each flow record counts for (see the domain's evaluation module), kept per
-- local day so that any period sums a few thousand rows, and per case so that every number can be
-- opened to the cases behind it. A single cursor says which flow records have been counted.
create table eval_progress (
    id integer primary key,
    flow_cursor integer not null
);
insert into eval_progress (id, flow_cursor) values (1, 0);

create table eval_counts (
    -- local date as yyyymmdd
    day integer not null,
    indicator text not null,
    -- a unit id for the hotline and department indicators, a user id for the others
    subject_id integer not null,
    metric text not null,
    n integer not null,
    primary key (day, indicator, subject_id, metric)
) without rowid;

create table eval_facts (
    indicator text not null,
    subject_id integer not null,
    metric text not null,
    day integer not null,
    case_id integer not null,
    n integer not null,
    primary key (indicator, subject_id, metric, day, case_id)
) without rowid;
