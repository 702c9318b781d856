"""Labelled-prompt classification shared by routing and safety: JSON-lines example files and TOML policy files
(shipped defaults merged with the user's file, errors naming file and line)."""
