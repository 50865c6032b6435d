-- A signal's title and explanation in English as well, written by the scan beside the Chinese ones, for
-- the English interface. Signals found before have none: they are shown in Chinese.
alter table signals add column title_en text;
alter table signals add column explanation_en text;
