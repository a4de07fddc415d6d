"""Manage-area pages of the kpis context: ``status`` ("Refresh now", the freshness line, measurement
health) and ``definitions`` (KPI definitions and their dated targets)."""
