"""Use cases of telling people: mail content, mailers, webhooks, admin notices."""
