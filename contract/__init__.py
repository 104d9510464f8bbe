"""The shared contract of livetally: event schema, registry records, topics and settings."""
