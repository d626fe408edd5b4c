"""Leaderboards: scores per day, all time and rolling windows; top N and my rank."""
