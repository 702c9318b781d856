"""Plugin SDK and built-in tools (scoped, permission-checked). Not built yet."""
