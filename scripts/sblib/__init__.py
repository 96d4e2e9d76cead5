"""sandbench's Python library: thin commands over report, analysis, records and
measuring (scripts/README.md, "The library")."""
