"""Domain logic: pure functions and data types."""
