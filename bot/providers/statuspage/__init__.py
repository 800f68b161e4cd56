"""Status page providers: where incident status updates are published for customers."""
