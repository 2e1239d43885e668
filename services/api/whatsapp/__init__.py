"""A school's approved WhatsApp templates: set here by its admin, kept and used by the
notifications service, which sends the messages."""
