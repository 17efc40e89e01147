"""The entry-table core: the registry of entry tables and the one converter from a table's
columns to its form. Blueprints and services import it; it imports no blueprint."""
