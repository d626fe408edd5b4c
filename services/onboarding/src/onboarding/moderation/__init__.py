"""Moderation: reports, the sanction ladder, mutes, bans and appeals."""
