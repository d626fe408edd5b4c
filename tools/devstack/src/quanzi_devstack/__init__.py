"""The embedded platform: every service as a process, the dev broker, SQLite under var/."""
