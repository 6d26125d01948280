"""Supervisors' reports: how fast calls are answered and reached, what they were, devices offline."""
