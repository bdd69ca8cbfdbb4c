-- Operator access: bearer tokens with a role, and the audit log.

CREATE TABLE api_tokens (
  token_id        text PRIMARY KEY,                 -- hex, not secret
  name            text NOT NULL,
  secret_sha256   bytea NOT NULL,                   -- SHA-256 of the whole secret
  role            integer NOT NULL,                 -- ota.v1.Role
  created_unix    bigint NOT NULL,
  expires_unix    bigint NOT NULL DEFAULT 0,        -- 0: never
  revoked_unix    bigint NOT NULL DEFAULT 0,        -- 0: not revoked
  last_used_unix  bigint NOT NULL DEFAULT 0,
  created_by      text NOT NULL DEFAULT ''
);
-- Names are unique among unrevoked tokens.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_unix = 0;

-- Every call that changed state or was refused for its credentials.
-- Append-only: rows are never updated or deleted.
CREATE TABLE audit_events (
  event_id        bigserial PRIMARY KEY,
  time_ms         bigint NOT NULL,
  actor           text NOT NULL DEFAULT '',
  actor_token_id  text NOT NULL DEFAULT '',
  action          text NOT NULL,
  target          text NOT NULL DEFAULT '',
  result_code     integer NOT NULL,
  result_message  text NOT NULL DEFAULT '',
  peer            text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_by_time ON audit_events (time_ms);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
