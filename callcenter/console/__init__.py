"""The browser console and the community worker page, served by the application itself."""
