"""rds-snapshot-dr: snapshot RDS instances and Aurora clusters and copy them to a second region."""

__version__ = "0.1.0"
