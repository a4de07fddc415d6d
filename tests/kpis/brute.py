"""Brute-force recomputation of the kpis facts and KPIs from raw events, in plain Python.

Written independently of kpis.rollup/kpis.metrics (only the documented semantics), so the
property tests compare two implementations.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

COMPLETION = {
    "training": {"training.completed"},
    "faq": {"faq.viewed"},
    "assessment": {"assessment.passed"},
}
# A document completes by its rule: viewed (or anything stronger), downloaded, or read for its minimum time.
DOCUMENT_RULES = {
    "view": {"document.viewed", "document.downloaded", "document.read"},
    "download": {"document.downloaded"},
    "time": {"document.read"},
}
LEARNING = {"training", "assessment"}  # what the training completion rate and days to first completion count
WINDOW = dt.timedelta(minutes=30)


def local_day(ts: dt.datetime, zone) -> dt.date:
    return ts.astimezone(zone).date()


def norm(q: str) -> str:
    return " ".join(q.split()).lower()


def superseded(e, events) -> bool:
    """A person's FAQ answer followed by a later answer of theirs on the same FAQ (changed: not counted)."""
    if e.verb != "faq.feedback" or e.user_id is None:
        return False
    return any(
        o.verb == "faq.feedback" and o.user_id == e.user_id and o.asset_id == e.asset_id
        and (o.occurred_at, o.stored_id) > (e.occurred_at, e.stored_id)
        for o in events
    )


def daily_facts(events, zone) -> dict:
    """A superseded FAQ answer still happened (its partner was active, its FAQ used that day): its
    key keeps a row, but it is not counted as an answer (counts and users leave it out)."""
    groups, keys = defaultdict(list), set()
    for e in events:
        key = (local_day(e.occurred_at, zone), e.partner_id, e.asset_id, e.verb)
        keys.add(key)
        if not superseded(e, events):
            groups[key].append(e)
    out = {}
    for key in keys:
        evs = groups[key]
        progress = [e.progress for e in evs if e.progress is not None]
        out[key] = (
            len(evs),
            len({e.user_id for e in evs if e.user_id is not None}),
            max(progress) if progress else None,
            sum(1 for e in evs if e.resolved is False),
        )
    return out


def search_unresolved(s, events) -> bool:
    if s.result_count == 0 or s.user_id is None:
        return True
    window = [e for e in events if e.user_id == s.user_id and s.occurred_at <= e.occurred_at <= s.occurred_at + WINDOW]
    viewed = any(e.verb == "faq.viewed" for e in window)
    said_no = any(e.verb == "faq.feedback" and e.resolved is False for e in window)
    return not viewed or said_no


def faq_facts(events, zone) -> dict:
    out = defaultdict(lambda: [0, 0, 0])
    for s in events:
        if s.verb != "faq.searched":
            continue
        row = out[(local_day(s.occurred_at, zone), s.partner_id, norm(s.query))]
        row[0] += 1
        row[1] += int(s.result_count == 0)
        row[2] += int(search_unresolved(s, events))
    return {k: tuple(v) for k, v in out.items()}


def is_completion(e, kinds, rules=None) -> bool:
    """rules: {asset_id: "view" | "download" | "time"} for documents (absent: view)."""
    if e.asset_id is None:
        return False
    kind = kinds[e.asset_id]
    if kind == "document":
        return e.verb in DOCUMENT_RULES[(rules or {}).get(e.asset_id, "view")]
    return e.verb in COMPLETION[kind]


def partner_states(events, kinds, rules=None) -> dict:
    groups = defaultdict(list)
    for e in events:
        if e.asset_id is not None:
            groups[(e.partner_id, e.asset_id)].append(e)
    out = {}
    for key, evs in groups.items():
        done = [e for e in evs if is_completion(e, kinds, rules)]
        progress = [e.progress for e in evs if e.progress is not None and e.verb in ("training.progressed", "training.completed")]
        out[key] = (
            min(e.occurred_at for e in evs),
            max(e.occurred_at for e in evs),
            min((e.occurred_at for e in done), default=None),
            len({e.user_id for e in done if e.user_id is not None}),
            len({e.user_id for e in evs if e.user_id is not None}),
            max(progress) if progress else None,
        )
    return out


def user_states(events, kinds, rules=None) -> dict:
    """Per (user, partner, asset): an event counts for the partner it was logged with."""
    groups = defaultdict(list)
    for e in events:
        if e.asset_id is not None and e.user_id is not None:
            groups[(e.user_id, e.partner_id, e.asset_id)].append(e)
    out = {}
    for key, evs in groups.items():
        done = [e for e in evs if is_completion(e, kinds, rules)]
        progress = [e.progress for e in evs if e.progress is not None and e.verb in ("training.progressed", "training.completed")]
        best = max(progress) if progress else None
        out[key] = (
            min(e.occurred_at for e in evs),
            max(e.occurred_at for e in evs),
            min((e.occurred_at for e in done), default=None),
            0.0 if best is None else min(best / 100.0, 1.0),
            best,
            round(sum(e.seconds or 0 for e in evs), 6),
        )
    return out


# --- KPIs ---------------------------------------------------------------------------------------------


def q4(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def cell(num, den, *, percent=True):
    num, den = Decimal(str(num)), Decimal(str(den))
    if den == 0:
        return (q4(num), q4(den), None)
    return (q4(num), q4(den), q4(num / den * (100 if percent else 1)))


def kpi(metric, *, events, partners, assets, pairs, supports, start, end, zone, rules=None):
    """(overall, {partner_id: cell}). partners: {id: (status, joined_on)} as they were in the period;
    assets: {id: (kind, published)}; rules: {document id: completion rule};
    pairs: [(partner, asset, due_on, required)]; supports:
    [(partner, date)]. A partner counts for a period only if it had joined by the period's end."""
    partners = {p: v for p, v in partners.items() if v[1] <= end}
    start_utc = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    end_utc = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    kinds = {a: k for a, (k, _) in assets.items()}
    pids = sorted(partners)
    in_period = [e for e in events if start <= local_day(e.occurred_at, zone) <= end and e.partner_id in partners]

    if metric == "enablement_completion_rate":
        num, den = defaultdict(int), defaultdict(int)
        for p, a, due, req in pairs:
            if p not in partners or not (start <= due <= end) or partners[p][1] > due:
                continue  # not due in the period, or the partner joined after the due date
            den[p] += 1
            deadline = dt.datetime.combine(due + dt.timedelta(days=1), dt.time.min, tzinfo=zone)  # by its due date
            done = [e for e in events if e.partner_id == p and e.asset_id == a and is_completion(e, kinds, rules) and e.occurred_at < deadline]
            users = {e.user_id for e in done if e.user_id is not None}
            num[p] += int(len(users) >= req or (req == 1 and bool(done)))
        return cell(sum(num.values()), sum(den.values())), {p: cell(num[p], den[p]) for p in pids}
    if metric == "training_completion_rate":
        started, completed = defaultdict(int), defaultdict(int)
        for (_u, p, a), (first, _last, first_done, *_rest) in user_states(events, kinds, rules).items():
            if kinds[a] not in LEARNING or p not in partners or not (start_utc <= first < end_utc):
                continue
            started[p] += 1
            completed[p] += int(first_done is not None and first_done < end_utc)
        return cell(sum(completed.values()), sum(started.values())), {p: cell(completed[p], started[p]) for p in pids}
    if metric == "active_partner_rate":
        live = {p for p, (status, _) in partners.items() if status != "dormant"}
        active = {e.partner_id for e in in_period} & live
        return cell(len(active), len(live)), {p: cell(int(p in active), int(p in live)) for p in pids}
    if metric == "content_utilisation":
        published = {a for a, (_, pub) in assets.items() if pub}
        used = {e.asset_id for e in in_period if e.asset_id in published}
        per = {p: cell(len({e.asset_id for e in in_period if e.asset_id in published and e.partner_id == p}), len(published)) for p in pids}
        return cell(len(used), len(published)), per
    if metric == "document_downloads":
        per = {p: cell(sum(1 for e in in_period if e.verb == "document.downloaded" and e.partner_id == p), 1, percent=False) for p in pids}
        return cell(sum(1 for e in in_period if e.verb == "document.downloaded"), 1, percent=False), per
    if metric == "document_views":
        per = {p: cell(sum(1 for e in in_period if e.verb == "document.viewed" and e.partner_id == p), 1, percent=False) for p in pids}
        return cell(sum(1 for e in in_period if e.verb == "document.viewed"), 1, percent=False), per
    if metric == "faq_unresolved_rate":
        searches = [e for e in in_period if e.verb == "faq.searched"]
        per = {}
        for p in pids:
            mine = [s for s in searches if s.partner_id == p]
            per[p] = cell(sum(search_unresolved(s, events) for s in mine), len(mine))
        return cell(sum(search_unresolved(s, events) for s in searches), len(searches)), per
    if metric == "support_activities_per_partner":
        mine = [(p, d) for p, d in supports if p in partners and start <= d <= end]
        per = {p: cell(sum(1 for q, _ in mine if q == p), 1, percent=False) for p in pids}
        return cell(len(mine), len(pids), percent=False), per
    if metric == "median_days_to_first_completion":
        days = {}
        for p in pids:
            firsts = [e.occurred_at for e in events if e.partner_id == p and e.asset_id is not None and kinds[e.asset_id] in LEARNING and is_completion(e, kinds, rules)]
            if firsts and start_utc <= min(firsts) < end_utc:
                days[p] = max((local_day(min(firsts), zone) - partners[p][1]).days, 0)
        per = {p: ((q4(days[p]), q4(1), q4(days[p])) if p in days else (q4(0), q4(0), None)) for p in pids}
        if not days:
            return (q4(0), q4(0), None), per
        return (q4(sum(days.values())), q4(len(days)), q4(statistics.median(days.values()))), per
    if metric == "assessment_pass_rate":
        graded = [e for e in in_period if e.verb in ("assessment.passed", "assessment.failed")]
        per = {
            p: cell(sum(1 for e in graded if e.partner_id == p and e.verb == "assessment.passed"),
                    sum(1 for e in graded if e.partner_id == p))
            for p in pids
        }
        return cell(sum(1 for e in graded if e.verb == "assessment.passed"), len(graded)), per
    raise AssertionError(metric)
