"""MCP (Model Context Protocol) servers as tool sources: their configuration here; never trusts what a server says."""
