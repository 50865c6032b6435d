-- Divisions may carry their polygon (GeoJSON geometry), e.g. a city's community boards imported from
-- GeoJSON, so that a case with coordinates but no grid still finds its division.
alter table divisions add column geometry text;
