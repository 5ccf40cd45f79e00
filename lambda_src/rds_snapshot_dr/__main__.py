"""`python -m rds_snapshot_dr`: the command line for manual runs (see cli/main.py)."""

from rds_snapshot_dr.cli.main import main

raise SystemExit(main())
