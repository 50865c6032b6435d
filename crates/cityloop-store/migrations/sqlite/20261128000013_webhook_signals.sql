-- Webhooks also carry risk signals (signal.raised): each subscription keeps a second cursor, into the
-- signals, and a subscription made from now on starts after the newest one.
alter table webhooks add column signal_cursor integer not null default 0;
update webhooks set signal_cursor = (select coalesce(max(id), 0) from signals);
