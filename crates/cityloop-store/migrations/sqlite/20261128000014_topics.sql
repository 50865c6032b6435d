-- 每月一题: the hard problems a city takes on as monthly topics, each a category with a lead unit and a
-- goal, and the volume of the month it was adopted in, to see whether it falls afterwards.
create table topics (
    id integer primary key,
    -- the evaluation period (YYYY-MM) the topic was adopted in
    period text not null,
    category_id integer not null references categories(id),
    title text not null,
    lead_unit_id integer references units(id),
    goal text not null default '',
    -- cases of the category in the adoption period
    baseline integer not null,
    signal_id integer,
    adopted_by integer,
    adopted_at integer not null,
    unique (period, category_id)
);
