"""Prometheus metrics of the DC-09 receiver (its rejects count in the gateway's own)."""

from __future__ import annotations

from prometheus_client import Counter

FRAMES = Counter(
    "eldercare_dc09_frames_total", "DC-09 frames received, by transport", ["transport"]
)
ANSWERS = Counter(
    "eldercare_dc09_answers_total", "DC-09 answers sent (ack, nak, duh, none), by kind", ["answer"]
)
