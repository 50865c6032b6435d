-- The leader screen reads rollups instead of the cases. The evaluation counter keeps them as it counts
-- each flow record: new cases per local day (yyyymmdd), channel and category, and closings per local
-- day and handling unit with the minutes from intake. What it counted before these tables existed is
-- filled in once by the counter, which knows the city's time zone (overview_backfilled).
create table intake_counts (
    day integer not null,
    channel text not null,
    -- 0 for a case without a category
    category_id integer not null,
    n integer not null,
    primary key (day, channel, category_id)
) without rowid;

create table closing_counts (
    day integer not null,
    unit_id integer not null,
    n integer not null,
    minutes integer not null,
    primary key (day, unit_id)
) without rowid;

alter table eval_progress add column overview_backfilled integer not null default 0;

-- Open cases by channel and place, and the overdue ones by unit, come from an index of the open cases
-- alone: its size follows the work in hand, not the years of history.
create index cases_open_overview on cases(state, deadline, channel, grid_id, division_id, unit_id)
    where state in ('reported', 'verifying', 'registered', 'pending_sign', 'return_review', 'handling', 'suspended', 'feedback', 'close_pending');

-- The desk's queue of extension, suspension and return requests: the few cases with a request waiting,
-- instead of every case in hand.
create index cases_waiting_requests on cases(state, updated_at) where pending is not null;
