"""What the entry scripts share: flags defined from settings dataclasses, strategy and
config from flags, and one exit path for user errors."""
