-- Tamper evidence (docs/audit.md). Each flow record carries its link: a keyed hash of its values and
-- of the link of the case's previous record, written with the record. Records already stored when
-- this ran are linked once by the first node that opens the database (`legacy_up_to`).
alter table flow add column link text;

-- Seals: the records with ids in (the previous seal's last_flow_id, last_flow_id], in id order, hashed
-- with the previous seal's root. A seal's id is the previous one's plus one, so two nodes sealing at
-- once cannot both succeed.
create table audit_seals (
    id bigint primary key,
    last_flow_id bigint not null,
    records bigint not null,
    root text not null,
    sealed_at bigint not null
);

create table audit_progress (
    id integer primary key check (id = 1),
    legacy_up_to bigint not null,
    legacy_linked integer not null default 0
);
insert into audit_progress (id, legacy_up_to) select 1, coalesce(max(id), 0) from flow;
