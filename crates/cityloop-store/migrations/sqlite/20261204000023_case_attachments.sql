-- Which cases hold each attachment, so that a file is served only to those who may see one of its
-- cases (or uploaded it). Filled from the flow records already written.
create table case_attachments (
    hash text not null,
    case_id integer not null references cases(id),
    primary key (hash, case_id)
);
insert into case_attachments (hash, case_id)
select distinct j.value, f.case_id from flow f, json_each(f.attachments) j
where f.attachments <> '[]' and json_valid(f.attachments);
