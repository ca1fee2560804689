"""Claims of this family register on import."""
