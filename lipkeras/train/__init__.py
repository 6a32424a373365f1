"""Training stages: ``python -m lipkeras.train --stage lipnet ...`` (more stages in later issues)."""
