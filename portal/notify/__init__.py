"""Notifications: an outbox per venue (a Valkey stream with retries and dead letters, `outbox`), the
channels that deliver (Web Push `webpush`, SMS `sms` through one provider interface), the shoppers'
opt-ins (`contacts`, the push subscription endpoint in `views`) and the worker (`worker`, run as
`python -m portal notify`). Light apps send through `portal.apps.notify`."""
