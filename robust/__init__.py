"""condensekit.robust — placeholder until its issue lands; see DESIGN.md."""
