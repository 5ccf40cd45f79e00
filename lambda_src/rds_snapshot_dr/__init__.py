"""rds-snapshot-dr: snapshot RDS instances and Aurora clusters and copy them to a second region."""

# The release of the module and of this package: always equal to the repository's VERSION file, which
# Terraform reads for the module_version output (tests/package/test_version.py keeps them in step).
__version__ = "1.0.0"
