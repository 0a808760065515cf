"""Admin for cases, signals, evidence, queues and routing rules."""
