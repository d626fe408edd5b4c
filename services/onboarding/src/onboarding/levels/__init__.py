"""The level gate: the projection of rewards' levels and the check on the way in."""
