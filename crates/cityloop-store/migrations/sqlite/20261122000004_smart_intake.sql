-- Smart intake: versions of the request classifier, the knowledge base, and reply checks.
create table classifier_models (
    version integer primary key,
    created_at integer not null,
    source text not null,
    documents integer not null,
    labels integer not null,
    metrics text not null default '{}',
    model blob not null
);

create table kb_articles (
    id integer primary key,
    title text not null,
    body text not null,
    category_code text,
    tags text not null default '',
    created_at integer not null,
    updated_at integer not null
);

create table reply_checks (
    id integer primary key,
    case_id integer not null references cases(id),
    unit_id integer references units(id),
    score integer not null,
    relevance real not null,
    findings text not null,
    checked_at integer not null
);
create index reply_checks_case on reply_checks(case_id, id);
create index reply_checks_unit on reply_checks(unit_id, checked_at);
