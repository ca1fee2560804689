"""Claims of family tttd (being built this session)."""
