"""fpservice: indicator tables from floating-population family-planning ledgers (台帐)."""

__version__ = "0.1.0"
