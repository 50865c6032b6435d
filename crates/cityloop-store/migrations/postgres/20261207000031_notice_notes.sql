-- What the supervisor asks of the unit with a 催办 or 督办 (the move's note), shown beside the notice.
-- Notices sent before have none.
alter table notices add column note text;
