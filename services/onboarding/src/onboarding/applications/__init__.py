"""Applications: questionnaires, their rules, submission and review; the level gate's
setting."""
