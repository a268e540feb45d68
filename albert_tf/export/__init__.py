"""SavedModel export for TF Serving, its client, and checkpoint conversion."""
