"""SIA DC-09 alarm receiver: panels and dialers over TCP and UDP, into the one ingest path (docs/dc09.md)."""
