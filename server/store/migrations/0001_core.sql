-- Update certificates, assets, manifests and devices.
-- Times are Unix seconds (bigint), ids are lowercase hex or dashed UUIDs.

CREATE TABLE certificates (
  key_id            text PRIMARY KEY,            -- hex SHA-256 of the SPKI DER
  fingerprint       text NOT NULL UNIQUE,        -- hex SHA-256 of the DER
  certificate_der   bytea NOT NULL,
  subject           text NOT NULL,
  issuer            text NOT NULL,
  not_before_unix   bigint NOT NULL,
  not_after_unix    bigint NOT NULL,
  description       text NOT NULL DEFAULT '',
  revoked_unix      bigint,                      -- NULL while trusted
  revocation_reason text NOT NULL DEFAULT '',
  created_unix      bigint NOT NULL
);

CREATE TABLE assets (
  sha256          text PRIMARY KEY,              -- hex; the blob's name
  size            bigint NOT NULL CHECK (size > 0),
  name            text NOT NULL DEFAULT '',
  complete        boolean NOT NULL DEFAULT false,
  bytes_received  bigint NOT NULL DEFAULT 0,
  created_unix    bigint NOT NULL,
  updated_unix    bigint NOT NULL
);

CREATE TABLE manifests (
  manifest_id      text PRIMARY KEY,             -- hex SHA-256 of the SignedManifest bytes
  signed_manifest  bytea NOT NULL,
  vendor_id        text NOT NULL,                -- dashed UUID
  class_id         text NOT NULL,
  sequence_number  bigint NOT NULL,
  payload_sha256   text NOT NULL REFERENCES assets (sha256),
  payload_size     bigint NOT NULL,
  version          text NOT NULL DEFAULT '',
  component        text NOT NULL DEFAULT '',
  expires_unix     bigint NOT NULL DEFAULT 0,
  signing_key_ids  text[] NOT NULL,
  created_unix     bigint NOT NULL
);
CREATE INDEX manifests_by_class ON manifests (vendor_id, class_id, sequence_number);
CREATE INDEX manifests_by_payload ON manifests (payload_sha256);

CREATE TABLE devices (
  device_id            text PRIMARY KEY,
  vendor_id            text NOT NULL DEFAULT '',  -- dashed UUID
  class_id             text NOT NULL DEFAULT '',
  installed_slot       text NOT NULL DEFAULT '',
  installed_sha256     text NOT NULL DEFAULT '',  -- hex
  installed_sequence   bigint NOT NULL DEFAULT 0,
  installed_version    text NOT NULL DEFAULT '',
  installed_component  text NOT NULL DEFAULT '',
  installed_trial      boolean NOT NULL DEFAULT false,
  -- What the device reports, what operators set (operators win), and the
  -- merge filters read.
  reported_attributes  jsonb NOT NULL DEFAULT '{}',
  assigned_attributes  jsonb NOT NULL DEFAULT '{}',
  attributes           jsonb GENERATED ALWAYS AS (reported_attributes || assigned_attributes) STORED,
  client_version       text NOT NULL DEFAULT '',
  key_list_version     bigint NOT NULL DEFAULT 0,
  slot_size            bigint NOT NULL DEFAULT 0,
  online               boolean NOT NULL DEFAULT false,
  first_seen_unix      bigint NOT NULL DEFAULT 0,  -- 0: never connected
  last_seen_unix       bigint NOT NULL DEFAULT 0,
  created_unix         bigint NOT NULL
);
CREATE INDEX devices_by_class ON devices (vendor_id, class_id);
CREATE INDEX devices_by_attributes ON devices USING gin (attributes jsonb_path_ops);
CREATE INDEX devices_online ON devices (device_id) WHERE online;
