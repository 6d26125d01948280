"""Home devices in software: they speak only the wire protocol (docs/protocol.md), over MQTT or WebSocket.

Nothing here reads the database or imports the gateway or the call centre: the composition root
(`eldercare simulate …`, `eldercare up`) hands in plain `DeviceProfile` records.
"""
