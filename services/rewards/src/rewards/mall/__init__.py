"""The points mall: catalog items, stock and redemptions."""
