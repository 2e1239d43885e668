"""Delivery channels by name; the worker looks a delivery's channel up here."""

from __future__ import annotations

from services.notifications.channels import email, telegram, whatsapp
from services.notifications.channels.base import Channel, Connections, DeliveryFailed, Outgoing

CHANNELS: dict[str, Channel] = {
    "email": Channel(name="email", send=email.deliver),
    "telegram": Channel(name="telegram", send=telegram.deliver),
    "whatsapp": Channel(name="whatsapp", send=whatsapp.deliver, prepare=whatsapp.prepare),
}

__all__ = ["CHANNELS", "Channel", "Connections", "DeliveryFailed", "Outgoing"]
