"""Content HTTP API: routers and request/response schemas."""
