-- Secondary indexes set aside while a large import loads an almost empty table, with the statement
-- that builds each again. Kept in the database so that an import stopped halfway (a crash, a kill)
-- has its indexes rebuilt the next time the store opens.
create table deferred_indexes (
    name text primary key,
    definition text not null
);
