-- The risk-signal scan reads one kind of place's counts over a few days: found by kind and day, with
-- the count in the index, instead of through every count of that kind.
drop index area_counts_day;
create index area_counts_kind_day on area_counts(area_kind, day, area_id, category_id, n);

-- Density clustering reads each category's located cases of a window: their places come from the
-- index instead of a lookup of each case.
drop index cases_category_created;
create index cases_category_created on cases(category_id, created_at, lat, lon);
