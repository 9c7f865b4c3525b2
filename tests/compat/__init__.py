"""End-to-end compatibility: real client libraries and kcat against a real ``moldau serve``."""
