-- Campaigns and the per-device deployments they create.

CREATE TABLE campaigns (
  campaign_id        text PRIMARY KEY,                 -- hex
  name               text NOT NULL,
  description        text NOT NULL DEFAULT '',
  manifest_id        text NOT NULL REFERENCES manifests (manifest_id),
  device_filter      text NOT NULL DEFAULT '',
  policy             bytea NOT NULL,                   -- serialized ota.v1.RolloutPolicy
  state              integer NOT NULL,                 -- ota.v1.CampaignState
  state_reason       text NOT NULL DEFAULT '',
  current_wave       integer NOT NULL DEFAULT 0,
  wave_started_unix  bigint NOT NULL DEFAULT 0,
  created_unix       bigint NOT NULL,
  started_unix       bigint NOT NULL DEFAULT 0,
  finished_unix      bigint NOT NULL DEFAULT 0
);
-- Names are unique among campaigns that are not final.
CREATE UNIQUE INDEX campaigns_open_name ON campaigns (name) WHERE state NOT IN (5, 6, 7);
CREATE INDEX campaigns_by_state ON campaigns (state);

-- Every state change, for people and audits.
CREATE TABLE campaign_transitions (
  campaign_id  text NOT NULL REFERENCES campaigns (campaign_id),
  from_state   integer NOT NULL,
  to_state     integer NOT NULL,
  reason       text NOT NULL DEFAULT '',
  at_unix      bigint NOT NULL
);
CREATE INDEX campaign_transitions_by_campaign ON campaign_transitions (campaign_id, at_unix);

CREATE TABLE deployments (
  deployment_id  text PRIMARY KEY,                     -- hex
  campaign_id    text NOT NULL REFERENCES campaigns (campaign_id),
  device_id      text NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
  wave           integer NOT NULL,
  state          integer NOT NULL,                     -- ota.v1.DeploymentState
  reason         integer NOT NULL DEFAULT 0,           -- ota.v1.ReasonCode
  message        text NOT NULL DEFAULT '',
  bytes_done     bigint NOT NULL DEFAULT 0,
  bytes_total    bigint NOT NULL DEFAULT 0,
  created_ms     bigint NOT NULL,
  updated_ms     bigint NOT NULL,
  UNIQUE (campaign_id, device_id)
);
-- A device is in at most one open deployment (PENDING, NOTIFIED, DEFERRED,
-- DOWNLOADING, DOWNLOADED, INSTALLING, REBOOTING) at a time.
CREATE UNIQUE INDEX deployments_one_open_per_device ON deployments (device_id)
  WHERE state IN (1, 2, 4, 5, 6, 7, 8);
CREATE INDEX deployments_by_campaign ON deployments (campaign_id, wave, state);
