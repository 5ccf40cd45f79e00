"""`python -m rds_snapshot_dr`: the command line for manual runs (see cli.py)."""

from .cli import main

raise SystemExit(main())
