-- A device's deployments, newest first: the device's current deployment in
-- GetDevice and ListDevices.
CREATE INDEX deployments_by_device ON deployments (device_id, updated_ms DESC);
