"""Gateway HTTP API: routers and request/response schemas."""
