"""Privacy duties: an elder's data exported on request, a death or a move away recorded (their
alarms stop), and their personal data anonymised once the retention period is over."""
