"""Success patterns, playbooks and next best action (DESIGN.md, "Success patterns"): which assets,
learning paths and support activities the top partners (by won deals or revenue) used before their
wins more often than the others, as lift with a confidence interval; the suggested playbook a
channel manager assigns in one click, its adoption, and each partner's gap to it. The top of the
import graph: it reads ``kpis`` (completion states), ``enablement`` and ``partners.deals``; nothing
imports it. Owns ``PatternRun`` and ``PatternItem`` (app label ``patterns``)."""
