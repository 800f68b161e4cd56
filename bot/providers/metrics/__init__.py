"""Metrics providers: where trigger and criterion queries are answered."""
