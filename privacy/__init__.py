"""condensekit.privacy — placeholder until its issue lands; see DESIGN.md."""
