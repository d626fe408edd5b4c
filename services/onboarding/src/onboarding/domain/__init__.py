"""Onboarding domain rules: plain Python, no I/O."""
