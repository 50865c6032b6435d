-- Duplicate lookup at intake reads the open cases of a few grids in a time window: a partial index keeps
-- that to the open cases instead of every case of those grids.
create index cases_open_by_grid on cases(grid_id, created_at)
    where state in ('reported', 'verifying', 'registered', 'pending_sign', 'return_review', 'handling', 'suspended', 'feedback', 'close_pending')
    and master_id is null;
