"""Claims of family dimension (being built this session)."""
