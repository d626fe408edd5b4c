"""Quanzi insights: figures computed from every service's events."""
