-- A batch's rows are read back by batch id (to send them, and to verify a batch left in doubt). Without
-- an index every such read scanned the whole delivery table: 17 ms per batch at 200,000 rows.
CREATE INDEX activity_delivery_batch ON activity_delivery (destination, batch_id) WHERE batch_id IS NOT NULL;
