"""Contests (月度评选): members ranked by an activity metric, the top N awarded once."""
