"""Assessments: an asset kind with a question bank, attempts created and graded on the server only."""
