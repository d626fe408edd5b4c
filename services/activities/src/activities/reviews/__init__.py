"""Campaign reviews (复盘): each activity's funnel, points and channels, and the comparison
with the previous activity of its kind (read-side only)."""
