"""One small interface per outside system, each with real implementations."""
