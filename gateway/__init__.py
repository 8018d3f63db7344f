"""vidp's HTTP front door: webhooks and uploads that start `process-video` runs, and the catalog."""
