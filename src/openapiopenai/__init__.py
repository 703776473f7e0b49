"""openapiopenai: self-hosted server-side turn detection for the OpenAI Realtime API."""

__version__ = "0.1.0"
