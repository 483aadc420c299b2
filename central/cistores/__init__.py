"""Delivery targets outside AWS: GitHub Actions secrets and GitLab CI/CD variables, over their REST
APIs with `requests`. An adapter layer beside `central.notify`: it may use `central.aws` (the tokens
are Secrets Manager secrets of the central account) and the domain, and nothing above."""
