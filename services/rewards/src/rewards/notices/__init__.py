"""Expiry announcements (points.will_expire) and the tenant setting that times them."""
