"""The AI layer: backend interfaces, backends and pure helpers.

It imports neither federation nor storage code.
"""
