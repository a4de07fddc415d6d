"""Partners pages: ``accounts`` (login, language, tenant picker), ``manage`` (partner settings, invitations, support activities) and ``api_keys``."""
