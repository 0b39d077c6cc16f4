"""The Zalo channel: the same conversations, reminders and digests over the Zalo Bot API."""
