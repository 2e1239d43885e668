"""Delivery channels by name; the worker looks a delivery's channel up here."""

from __future__ import annotations

from services.notifications.channels import email
from services.notifications.channels.base import Channel, DeliveryFailed, Outgoing

CHANNELS: dict[str, Channel] = {
    "email": Channel(name="email", send=email.deliver),
}

__all__ = ["CHANNELS", "Channel", "DeliveryFailed", "Outgoing"]
