"""Moderation assist for the admin: posts and reports scored by the shipped moderation models in
background jobs (``scoring``), and a report's summary with a suggested action (``reports``).
Nothing here acts on anything: the admin decides, on /admin."""
