"""Claims of family oapl (being built this session)."""
