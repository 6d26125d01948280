"""Shift hand-over (my open items, notes to the next shift, who is on) and the supervisor's wall board."""
