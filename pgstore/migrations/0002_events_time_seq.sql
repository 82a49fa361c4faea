-- Exports (ato export, ato backtest -db) page through the events in order
-- of (time, seq): the retention index, on time alone, gains seq. Building
-- it holds writes to the events for as long as it takes: a few seconds
-- per million events.
CREATE INDEX events_time_seq ON {s}.events (time, seq);
DROP INDEX {s}.events_time;
