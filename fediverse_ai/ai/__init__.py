"""The AI layer: narrow backend interfaces and pure helpers. Imports neither federation nor storage."""
