"""SavedModel export for TF Serving and its client."""
