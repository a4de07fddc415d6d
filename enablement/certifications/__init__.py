"""Certifications: a set of required assets, earned automatically by completing them (the completion
rule of ``enablement.completion``), with expiry, renewal, revocation, a PDF certificate, a public
verification page, reminders before expiry and tier requirements (N certified people per tier)."""
