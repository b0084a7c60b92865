"""repdrift."""
