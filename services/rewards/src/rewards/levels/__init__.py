"""Levels: thresholds in lifetime points and their names."""
