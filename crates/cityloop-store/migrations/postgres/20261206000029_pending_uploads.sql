-- Uploads no case holds yet, by the time of their last upload: what the background jobs remove once
-- they are older than `attachments.unattached_hours`. Only files waiting to be attached are here, so
-- the sweep reads a short table instead of every attachment ever stored.
create table pending_uploads (
    hash text primary key,
    uploaded_at bigint not null
);
create index pending_uploads_by_time on pending_uploads (uploaded_at);
insert into pending_uploads (hash, uploaded_at)
select a.hash, a.created_at from attachments a
where not exists (select 1 from case_attachments c where c.hash = a.hash);
