"""Post-training methods as explicit update maps on mixture parameters (CLAIMS.md §5)."""
