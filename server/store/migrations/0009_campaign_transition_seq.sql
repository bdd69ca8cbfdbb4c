-- Transitions in the order they were recorded, so that a watcher sends
-- every state change once, however quickly one follows another
-- (WatchCampaign): at_unix has whole seconds only.
ALTER TABLE campaign_transitions ADD COLUMN seq bigserial;
CREATE INDEX campaign_transitions_by_seq ON campaign_transitions (campaign_id, seq);
