"""Proactive care calls (主动关怀): the daily call list by risk, worked in the console."""
