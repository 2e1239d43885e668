"""Contacts known to be unreachable: a person's address on a channel that cannot reach them."""
