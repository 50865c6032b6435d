-- Bulk import: each run of a file (resumable from its checkpoint), and which source record became
-- which case (so that importing the same file again creates nothing new).
create table import_runs (
    id integer primary key,
    source text not null,
    file_name text not null,
    -- SHA-256 of the file: a run resumes only on the same content.
    file_hash text not null,
    started_at integer not null,
    finished_at integer,
    -- Records starting before this line are done.
    next_line integer not null default 0,
    imported integer not null default 0,
    skipped integer not null default 0,
    rejected integer not null default 0
);
create index import_runs_file on import_runs(source, file_hash);

create table import_sources (
    source text not null,
    external_id text not null,
    case_id integer not null references cases(id),
    primary key (source, external_id)
);
