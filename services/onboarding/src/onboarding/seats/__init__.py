"""Seats by hand: operators move members between groups; members switch themselves between
the interest and local groups they may sit in; members waiting for a seat get one."""
