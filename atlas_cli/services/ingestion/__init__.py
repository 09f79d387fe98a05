"""Usage events in and out: reading and validating lines, batching, the writer process, spooling,
and the event service (record, ingest, aggregate, verify, export) built on them."""
