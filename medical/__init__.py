"""condensekit.medical — placeholder until its issue lands; see DESIGN.md."""
