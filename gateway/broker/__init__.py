"""The MQTT broker `eldercare up` runs in-process when no external broker is configured."""
