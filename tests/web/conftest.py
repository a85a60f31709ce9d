"""The web tests that ask a real OpenAI-compatible server share the AI tests' llama server."""

from ai.conftest import llama_server, tiny_gguf  # noqa: F401
