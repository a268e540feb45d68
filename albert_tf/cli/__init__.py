"""What the entry scripts share: flags defined from settings dataclasses, strategy and
config from flags, one exit path for user errors, and the drivers that combine training
with export. The only package layer that may import both training/ and export/."""
