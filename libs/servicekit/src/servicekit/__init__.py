"""Shared mechanisms for Quanzi services. No domain code lives here."""
