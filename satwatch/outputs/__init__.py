"""satwatch."""
