-- Secondary indexes set aside while a large import loads an almost empty table, with the statement
-- that builds each again. The load keeps its lease (`held_until`, ms since the epoch) fresh; once the
-- lease has lapsed (the load was killed), the next node or command that looks builds them again.
create table deferred_indexes (
    name text primary key,
    definition text not null,
    held_until bigint not null
);
