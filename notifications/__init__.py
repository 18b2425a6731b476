"""Notification delivery: the `NotificationSender` port and its adapters (outbox, SES, SNS,
FCM), and the dispatcher that delivers queued notifications at least once.

What to send is decided in `write_side.notifications` (pure planning); this package only
queues and delivers.
"""
