"""Quanzi gateway service.

The one public entry: identity, tokens (JWKS), routing to services, merged API docs.
"""
