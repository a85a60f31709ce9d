"""The For-you feed: post embeddings (a background job) and their ranking per viewer."""
