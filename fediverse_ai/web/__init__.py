"""The HTTP surface: discovery, actors and collections, inboxes, and HTML pages."""
