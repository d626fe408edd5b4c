"""Communities and their groups: operators create and configure them."""
