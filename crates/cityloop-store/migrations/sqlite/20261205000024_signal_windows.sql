-- A scan looks up the signals whose window overlaps its own (an episode still going on): the recent
-- few, found by the end of their window instead of by reading every signal ever raised.
create index signals_window on signals(day_to, day_from);
