-- The report seq the device's installed state was last taken from (on
-- Connect, the device's newest report seq then): a report delivered later
-- but made earlier never overwrites newer state.
ALTER TABLE devices ADD COLUMN installed_report_seq bigint NOT NULL DEFAULT 0;
