"""Claims of family sdft (being built this session)."""
