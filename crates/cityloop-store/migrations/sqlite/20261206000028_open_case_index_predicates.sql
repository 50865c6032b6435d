-- The two indexes of open cases say "not closed, voided or merged" with `<>` instead of listing the
-- open states with `in (…)`: while it builds or updates a partial index, SQLite evaluates an `in` list
-- of constants anew for every row, which made these two, holding only the open cases, the slowest
-- builds of a bulk load. The queries they serve carry these terms beside `state in (…)`
-- (`dashboard::OPEN_CASES`). An import that set the indexes aside builds them again with
-- `create index if not exists`, which keeps these definitions.
drop index if exists cases_open_by_grid;
create index cases_open_by_grid on cases(grid_id, created_at)
    where state <> 'closed' and state <> 'voided' and state <> 'merged'
    and master_id is null;
drop index if exists cases_open_overview;
create index cases_open_overview on cases(state, deadline, channel, grid_id, division_id, unit_id)
    where state <> 'closed' and state <> 'voided' and state <> 'merged';
