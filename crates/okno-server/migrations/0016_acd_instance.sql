-- Which hotline instance wrote each queue event (issue 19): when an instance dies, the one
-- that takes over closes the calls it left open (their media went with it), so no caller stays
-- "waiting" on the wallboard for the rest of the day. Older rows have none.
ALTER TABLE acd_events ADD COLUMN instance TEXT;
