"""Device credentials at the MQTT edge: secrets, rotation and the broker's password and ACL files."""
