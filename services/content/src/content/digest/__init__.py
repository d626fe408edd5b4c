"""The daily digest (日报): each community's most engaged posts of its local day."""
