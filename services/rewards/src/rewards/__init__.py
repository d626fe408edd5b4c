"""Quanzi rewards service.

Points ledger, earning rules, levels, badges, leaderboards and the points mall.
"""
