-- Which cases hold each attachment and who uploaded it (the same file uploaded by two users is stored
-- once), so that a file is served, and can be attached to a move, only by those who uploaded it or may
-- see a case that holds it. Filled from the flow records and uploads already there.
create table case_attachments (
    hash text not null,
    case_id bigint not null references cases(id),
    primary key (hash, case_id)
);
insert into case_attachments (hash, case_id)
select distinct j.value, f.case_id from flow f, jsonb_array_elements_text(f.attachments::jsonb) j
where f.attachments <> '[]';

create table attachment_uploads (
    hash text not null,
    user_id bigint not null,
    primary key (hash, user_id)
);
insert into attachment_uploads (hash, user_id)
select hash, uploaded_by from attachments where uploaded_by is not null;
