-- Most cases have no master case and no resident account, and imported or anonymised ones no phone:
-- these indexes hold only the cases that have one, instead of an entry per case with nothing in it.
-- Lookups by a value (`= …`, `in (…)`) imply `is not null`, so both engines still use them.
drop index cases_reporter;
drop index cases_reporter_state;
create index cases_reporter_state on cases(reporter_id, state) where reporter_id is not null;
drop index cases_master;
create index cases_master on cases(master_id) where master_id is not null;
drop index cases_phone;
create index cases_phone on cases(contact_phone) where contact_phone is not null;
