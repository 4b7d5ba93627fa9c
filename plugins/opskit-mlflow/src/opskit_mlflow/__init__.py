"""MLflow tracker for opskit."""
