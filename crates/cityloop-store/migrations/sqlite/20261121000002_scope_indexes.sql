-- Scoped queues (a unit's inbox, an inspector's grids, a coordinator's street, a resident's own
-- requests) filter by who and by state together. Assisting and summoned units keep a copy of the
-- case's state, maintained with every move, so that their part of an inbox is an index range too.
create index cases_grid_state on cases(grid_id, state);
create index cases_division_state on cases(division_id, state);
create index cases_reporter_state on cases(reporter_id, state);

alter table case_assists add column state text not null default '';
update case_assists set state = (select c.state from cases c where c.id = case_assists.case_id);
create index case_assists_unit_state on case_assists(unit_id, state, case_id);

alter table whistles add column state text not null default '';
update whistles set state = (select c.state from cases c where c.id = whistles.case_id);
create index whistles_unit_state on whistles(unit_id, state, case_id);
