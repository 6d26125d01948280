"""The console's words by use case, each a dict of key: (Chinese, English) merged by texts.py."""
