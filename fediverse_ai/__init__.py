"""fediverse-ai: a self-hostable ActivityPub server with an AI actor."""

__version__ = "0.1.0"
