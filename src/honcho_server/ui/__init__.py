"""The memory explorer's static files (static/), served at /ui by api/ui.py."""
