"""WhatsApp: the schools' approved templates and the Cloud API's status webhooks."""
