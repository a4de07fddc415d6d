"""The channel managers' HTMX dashboards: overview, partners, scorecard, content, FAQ and teams
pages (``views``), their set-based reads over facts and KPI results (``selectors``), the filter bar
(``filters``) and CSV exports (``exports``). Query counts are bounded by the page, not the tenant."""
