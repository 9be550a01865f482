"""The domain: missions, light-curve formats, targets, discovery in MAST, shards of whole units, copying and
verification, and the catalog with its records and status rules."""
