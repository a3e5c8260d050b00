"""The advocacy loop, the reads: the NPS figure, response rate, trend, distribution, segments,
comments, the CSV export, the case queue and cases per root cause. Writes are in
:mod:`advocacy_portal.services.nps`."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from datetime import timezone

from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import NpsCase
from advocacy_portal.models import NpsCaseEvent
from advocacy_portal.models import NpsInvitation
from advocacy_portal.models import NpsResponse
from advocacy_portal.models import NpsRootCause
from advocacy_portal.models import Referral
from advocacy_portal.models import Testimonial
from advocacy_portal.models import utcnow
from advocacy_portal.services.nps import category

#: The segments staff compare.
SEGMENTS = {
    "referred": "Referred by a friend",
    "not_referred": "Not referred",
    "advocate": "Advocates with a link",
    "not_advocate": "Customers without a link",
    "testimonial_author": "Testimonial authors",
}
#: Comment filters by category.
CATEGORIES = {"promoter": "Promoters (9–10)", "passive": "Passives (7–8)", "detractor": "Detractors (0–6)"}
#: Trend buckets.
GRANULARITIES = {"week": "By week", "month": "By month"}
#: Case queue filter of due dates.
DUE_FILTERS = {"overdue": "Overdue", "due_today": "Due within 24 h", "on_time": "Not overdue"}


@dataclass
class Summary:
    """The NPS of a set of answers: % promoters minus % detractors (passives count in the total)."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @property
    def total(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> int | None:
        """The NPS, -100 to 100, rounded; ``None`` without answers."""
        if not self.total:
            return None
        return round(100 * (self.promoters - self.detractors) / self.total)

    def add(self, score: int) -> None:
        kind = category(score)
        setattr(self, kind + "s", getattr(self, kind + "s") + 1)


def summarize(scores) -> Summary:
    summary = Summary()
    for score in scores:
        summary.add(score)
    return summary


@dataclass
class Figures:
    start: date
    end: date
    summary: Summary
    asked: int
    answered: int
    skipped: int
    distribution: list[tuple[int, int]]
    trend: list[tuple[str, Summary]]
    segments: list[tuple[str, str, Summary]]
    granularity: str

    @property
    def response_rate(self) -> int | None:
        """Answered invitations as a percentage of the surveys sent in the period."""
        return round(100 * self.answered / self.asked) if self.asked else None


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (datetime.combine(start, time.min, tzinfo=timezone.utc),
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=timezone.utc))


def default_period(today: date | None = None) -> tuple[date, date]:
    today = today or utcnow().date()
    return today - timedelta(days=364), today


def responses_in(start: date, end: date) -> list[NpsResponse]:
    low, high = _bounds(start, end)
    return list(get_session().scalars(
        select(NpsResponse).where(NpsResponse.created_at >= low, NpsResponse.created_at < high)
        .order_by(NpsResponse.created_at)
    ))


def segment_members(user_ids=None) -> dict[str, set[str]]:
    """The user ids in each positive segment; only those among ``user_ids`` when given (looked up by
    index, a few hundred at a time, instead of loading every referred friend of the program)."""
    session = get_session()
    queries = {
        "referred": (Referral.friend_user_id, [Referral.status != "flagged"]),
        "advocate": (Advocate.user_id, []),
        "testimonial_author": (Testimonial.author_user_id, []),
    }
    if user_ids is None:
        return {key: set(session.scalars(select(column).where(*where).distinct()))
                for key, (column, where) in queries.items()}
    wanted = sorted({user_id for user_id in user_ids if user_id is not None})
    members: dict[str, set[str]] = {key: set() for key in queries}
    for offset in range(0, len(wanted), 500):
        chunk = wanted[offset:offset + 500]
        for key, (column, where) in queries.items():
            members[key].update(session.scalars(select(column).where(column.in_(chunk), *where).distinct()))
    return members


def in_segment(user_id: str, segment: str, members: dict[str, set[str]]) -> bool:
    if segment.startswith("not_"):
        return user_id not in members[segment[4:]]
    return user_id in members[segment]


def bucket_start(moment: datetime, granularity: str) -> date:
    day = moment.date()
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _buckets(start: date, end: date, granularity: str) -> list[date]:
    out, cursor = [], bucket_start(datetime.combine(start, time.min), granularity)
    while cursor <= end:
        out.append(cursor)
        if granularity == "week":
            cursor += timedelta(days=7)
        else:
            cursor = (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def figures(start: date, end: date, granularity: str = "month") -> Figures:
    """Every figure of the NPS page for answers given from ``start`` to ``end`` (inclusive)."""
    session = get_session()
    responses = responses_in(start, end)
    low, high = _bounds(start, end)
    counts = dict(session.execute(
        select(NpsInvitation.state, func.count()).where(
            NpsInvitation.created_at >= low, NpsInvitation.created_at < high
        ).group_by(NpsInvitation.state)
    ).all())
    asked = counts.get("sent", 0) + counts.get("answered", 0)
    distribution = {score: 0 for score in range(11)}
    for response in responses:
        distribution[response.score] += 1
    by_bucket: dict[date, Summary] = {bucket: Summary() for bucket in _buckets(start, end, granularity)}
    for response in responses:
        by_bucket.setdefault(bucket_start(response.created_at, granularity), Summary()).add(response.score)
    label = (lambda d: f"{d:%Y-%m-%d}") if granularity == "week" else (lambda d: f"{d:%Y-%m}")
    members = segment_members(r.user_id for r in responses)
    segments = [
        (key, name, summarize(r.score for r in responses if in_segment(r.user_id, key, members)))
        for key, name in SEGMENTS.items()
    ]
    return Figures(
        start=start, end=end, summary=summarize(r.score for r in responses), asked=asked,
        answered=counts.get("answered", 0), skipped=counts.get("skipped", 0),
        distribution=sorted(distribution.items()),
        trend=[(label(bucket), summary) for bucket, summary in sorted(by_bucket.items())],
        segments=segments, granularity=granularity,
    )


def score_counts_by_day(start: date, end: date) -> dict[date, Summary]:
    """Promoters, passives and detractors of the answers given each UTC day from ``start`` to ``end``
    (inclusive), counted in SQL (days without answers are absent)."""
    from advocacy_portal.services import rollups

    session = get_session()
    low, high = _bounds(start, end)
    day = rollups.day_of(NpsResponse.created_at, session.get_bind().dialect.name)
    kind = case((NpsResponse.score >= 9, "promoter"), (NpsResponse.score >= 7, "passive"), else_="detractor")
    days: dict[date, Summary] = {}
    for value, category_name, count in session.execute(
        select(day, kind, func.count())
        .where(NpsResponse.created_at >= low, NpsResponse.created_at < high)
        .group_by(day, kind)
    ):
        summary = days.setdefault(rollups.as_date(value), Summary())
        setattr(summary, category_name + "s", getattr(summary, category_name + "s") + int(count))
    return days


def comments(start: date, end: date, *, kind: str | None = None, segment: str | None = None,
             search: str | None = None, limit: int = 200) -> list[NpsResponse]:
    """Answers with a comment, newest first, filtered by category, segment and words."""
    low, high = _bounds(start, end)
    query = select(NpsResponse).where(
        NpsResponse.created_at >= low, NpsResponse.created_at < high, NpsResponse.comment.is_not(None)
    )
    if kind == "promoter":
        query = query.where(NpsResponse.score >= 9)
    elif kind == "passive":
        query = query.where(NpsResponse.score.between(7, 8))
    elif kind == "detractor":
        query = query.where(NpsResponse.score <= 6)
    if search:
        query = query.where(func.lower(NpsResponse.comment).contains(search.lower(), autoescape=True))
    rows = list(get_session().scalars(query.order_by(NpsResponse.created_at.desc()).limit(limit * 5)))
    if segment:
        members = segment_members(row.user_id for row in rows)
        rows = [row for row in rows if in_segment(row.user_id, segment, members)]
    return rows[:limit]


def export_csv(start: date, end: date) -> str:
    """Every answer in the period as CSV: date, customer, score, category, channel, comment, segments."""
    responses = responses_in(start, end)
    members = segment_members(row.user_id for row in responses)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["answered_at", "user_id", "email", "score", "category", "channel", "comment",
                     "referred", "advocate", "testimonial_author", "changes"])
    for row in responses:
        comment = row.comment or ""
        if comment[:1] in ("=", "+", "-", "@", "\t", "\r"):
            comment = "'" + comment  # no formula runs when the file is opened in a spreadsheet
        writer.writerow([
            row.created_at.isoformat(), row.user_id, row.email or "", row.score, category(row.score),
            row.channel, comment, int(row.user_id in members["referred"]),
            int(row.user_id in members["advocate"]), int(row.user_id in members["testimonial_author"]),
            row.changes,
        ])
    return buffer.getvalue()


def invitation_log(limit: int = 100, user_id: str | None = None) -> list[tuple[NpsInvitation, NpsResponse | None]]:
    """The newest asks (sent and skipped) with their answer, if any."""
    query = (
        select(NpsInvitation, NpsResponse)
        .outerjoin(NpsResponse, NpsResponse.invitation_id == NpsInvitation.id)
        .order_by(NpsInvitation.created_at.desc(), NpsInvitation.id.desc())
    )
    if user_id:
        query = query.where(NpsInvitation.user_id == user_id)
    return [tuple(row) for row in get_session().execute(query.limit(limit)).all()]


# -- cases -------------------------------------------------------------------------------------------------


@dataclass
class CaseFilters:
    status: str | None = None
    owner: str | None = None
    due: str | None = None
    score: str | None = None  # "detractor" scores, "request" (no score), or one score "0".."10"
    open_only: bool = True


def case_queue(filters: CaseFilters, limit: int = 200) -> list[NpsCase]:
    """The case queue: overdue first, then by due date."""
    now = utcnow()
    query = select(NpsCase)
    if filters.status:
        query = query.where(NpsCase.status == filters.status)
    elif filters.open_only:
        query = query.where(NpsCase.status.not_in(("resolved", "closed")))
    if filters.owner == "none":
        query = query.where(NpsCase.owner_user_id.is_(None))
    elif filters.owner:
        query = query.where(NpsCase.owner_user_id == filters.owner)
    unfinished = NpsCase.status.not_in(("resolved", "closed"))
    if filters.due == "overdue":
        query = query.where(unfinished, NpsCase.due_at < now)
    elif filters.due == "due_today":
        query = query.where(unfinished, NpsCase.due_at >= now, NpsCase.due_at < now + timedelta(hours=24))
    elif filters.due == "on_time":
        query = query.where(or_(~unfinished, NpsCase.due_at >= now))
    if filters.score == "request":
        query = query.where(NpsCase.score.is_(None))
    elif filters.score is not None and filters.score.isdigit():
        query = query.where(NpsCase.score == int(filters.score))
    rows = list(get_session().scalars(query.order_by(NpsCase.due_at, NpsCase.id).limit(limit)))
    rows.sort(key=lambda case: (not case.is_overdue(now), case.due_at))
    return rows


def overdue_count(now: datetime | None = None) -> int:
    """Cases past their due date and not resolved (counted on the admin pages)."""
    return get_session().scalar(
        select(func.count()).select_from(NpsCase).where(
            NpsCase.status.not_in(("resolved", "closed")), NpsCase.due_at < (now or utcnow())
        )
    ) or 0


def status_counts() -> dict[str, int]:
    return dict(get_session().execute(select(NpsCase.status, func.count()).group_by(NpsCase.status)).all())


def case_owners() -> list[tuple[str, str]]:
    """``(user id, name)`` of everyone who owns or owned a case."""
    rows = get_session().execute(
        select(NpsCase.owner_user_id, NpsCase.owner_first_name, NpsCase.owner_email)
        .where(NpsCase.owner_user_id.is_not(None)).distinct()
    ).all()
    seen = {}
    for user_id, name, email in rows:
        seen.setdefault(user_id, name or email or user_id)
    return sorted(seen.items(), key=lambda item: item[1])


def timeline(case: NpsCase, *, for_customer: bool) -> list[NpsCaseEvent]:
    """A case's history, oldest first; the customer's view leaves out internal notes."""
    query = select(NpsCaseEvent).where(NpsCaseEvent.case_id == case.id)
    if for_customer:
        query = query.where(NpsCaseEvent.kind != "note")
    return list(get_session().scalars(query.order_by(NpsCaseEvent.created_at, NpsCaseEvent.id)))


def customer_cases(user_id: str) -> list[NpsCase]:
    return list(get_session().scalars(
        select(NpsCase).where(NpsCase.user_id == str(user_id)).order_by(NpsCase.opened_at.desc())
    ))


def customer_case(case_id: int, user_id: str) -> NpsCase | None:
    """The case when it is this customer's, else ``None`` (another customer's case is not found)."""
    case = get_session().get(NpsCase, case_id)
    return case if case is not None and case.user_id == str(user_id) else None


@dataclass
class RootCauseTable:
    months: list[str] = field(default_factory=list)
    rows: list[tuple[str, list[int], int]] = field(default_factory=list)


def cases_per_root_cause(months: int = 6, today: date | None = None) -> RootCauseTable:
    """Resolved cases per root cause per month, for the last ``months`` months."""
    today = today or utcnow().date()
    first = today.replace(day=1)
    starts = [first]
    for _ in range(months - 1):
        starts.insert(0, (starts[0] - timedelta(days=1)).replace(day=1))
    low = datetime.combine(starts[0], time.min, tzinfo=timezone.utc)
    rows = get_session().execute(
        select(NpsCase.resolved_at, NpsRootCause.label, NpsCase.root_cause_text)
        .outerjoin(NpsRootCause, NpsRootCause.id == NpsCase.root_cause_id)
        .where(NpsCase.resolved_at.is_not(None), NpsCase.resolved_at >= low)
    ).all()
    labels = [f"{start:%Y-%m}" for start in starts]
    counts: dict[str, list[int]] = {}
    for resolved_at, label, text in rows:
        name = label or ("Other: " + text[:40] if text else "Unspecified")
        month = f"{resolved_at:%Y-%m}"
        if month in labels:
            counts.setdefault(name, [0] * len(labels))[labels.index(month)] += 1
    table = RootCauseTable(months=labels)
    table.rows = sorted(((name, values, sum(values)) for name, values in counts.items()),
                        key=lambda row: (-row[2], row[0]))
    return table


def response_for_case(case: NpsCase) -> NpsResponse | None:
    return get_session().get(NpsResponse, case.response_id) if case.response_id else None


def resurvey_of(case: NpsCase) -> tuple[NpsInvitation, NpsResponse | None] | None:
    """The re-survey sent after the case was resolved, and its answer: did the case turn them around?"""
    row = get_session().execute(
        select(NpsInvitation, NpsResponse)
        .outerjoin(NpsResponse, NpsResponse.invitation_id == NpsInvitation.id)
        .where(NpsInvitation.case_id == case.id)
        .order_by(NpsInvitation.created_at.desc()).limit(1)
    ).first()
    return tuple(row) if row else None


def select_case_of_response(response_id: int):
    """The query of the case a response opened."""
    return select(NpsCase).where(NpsCase.response_id == response_id).limit(1)
