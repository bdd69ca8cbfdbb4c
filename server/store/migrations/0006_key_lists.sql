-- Root-signed update key lists, as published; devices receive the latest.
CREATE TABLE key_lists (
  version           bigint PRIMARY KEY,
  signed_key_list   bytea NOT NULL,        -- serialized ota.v1.SignedKeyList, byte for byte
  signing_key_ids   text[] NOT NULL,
  published_unix    bigint NOT NULL
);
