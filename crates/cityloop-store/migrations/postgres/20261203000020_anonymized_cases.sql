-- Retention (docs/api.md#residents-contact-data): when a closed case's resident data was removed.
alter table cases add column anonymized_at bigint;
create index cases_to_anonymize on cases(closed_at) where anonymized_at is null and closed_at is not null;
