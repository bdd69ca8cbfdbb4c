-- Status reports from devices, kept once per (device, seq): a device
-- resends what the server did not acknowledge, and a resent report is
-- stored once.
CREATE TABLE status_reports (
  device_id           text NOT NULL,
  seq                 bigint NOT NULL CHECK (seq > 0),
  deployment_id       text NOT NULL DEFAULT '',
  state               integer NOT NULL,          -- ota.v1.DeploymentState
  reason              integer NOT NULL DEFAULT 0, -- ota.v1.ReasonCode
  message             text NOT NULL DEFAULT '',
  bytes_done          bigint NOT NULL DEFAULT 0,
  bytes_total         bigint NOT NULL DEFAULT 0,
  device_time_ms      bigint NOT NULL DEFAULT 0,
  received_ms         bigint NOT NULL,
  installed_slot      text NOT NULL DEFAULT '',
  installed_sha256    text NOT NULL DEFAULT '',
  installed_sequence  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, seq)
);
CREATE INDEX status_reports_by_deployment ON status_reports (deployment_id) WHERE deployment_id <> '';
