-- Deployments are inserted only by the rollout engine, in the transaction
-- that holds their campaign's row locked (SELECT ... FOR UPDATE), and a
-- campaign is never deleted: it is the record of a rollout (stop it
-- instead; the trigger below refuses deletes). The foreign key from
-- deployments to campaigns checked again, for every row of a wave, what
-- that lock already holds: about a sixth of the engine's insert time. The
-- key to devices stays, since devices are deleted and their deployments
-- with them.
ALTER TABLE deployments DROP CONSTRAINT deployments_campaign_id_fkey;

CREATE FUNCTION campaigns_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'campaigns are kept as the record of their rollout; stop a campaign instead of deleting it'
    USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER campaigns_are_kept BEFORE DELETE OR TRUNCATE ON campaigns
  FOR EACH STATEMENT EXECUTE FUNCTION campaigns_are_kept();
