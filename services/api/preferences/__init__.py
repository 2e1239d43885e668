"""A person's notification preferences: which channels, in which order, and whether they want
the messages they could do without (reminders, follow-ups)."""
