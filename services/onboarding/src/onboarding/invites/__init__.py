"""Invites: issued by members or operators, redeemed into a membership."""
