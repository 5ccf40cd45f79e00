"""The command line (`rds-snapshot-dr`): manual runs, backfills, preflight (`main`) and restore (`restore`)."""
