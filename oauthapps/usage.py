"""How much an app is used, read from the IssuedToken rows the token endpoint writes anyway
(no extra write on the token path): when it last got a token, and tokens per hour over the last
24 hours, laid out as the app page's server-rendered SVG bar chart."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Max
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.timesince import timesince

from oauthapps.models import OAuthApp
from oauthapps.tokens.models import IssuedToken
from orgs.models import Organization

HOURS = 24
# Chart geometry, in SVG user units (the SVG scales to its box).
PLOT_LEFT, PLOT_TOP, PLOT_HEIGHT = 40, 12, 100
SLOT, BAR = 20, 14
WIDTH = PLOT_LEFT + HOURS * SLOT + 8
HEIGHT = PLOT_TOP + PLOT_HEIGHT + 26
BASELINE = PLOT_TOP + PLOT_HEIGHT


@dataclass(frozen=True)
class HourBar:
    start: datetime
    count: int
    x: int
    y: int
    height: int
    slot_x: int  # the hour's whole column (hovering anywhere in it shows the count)

    @property
    def label(self) -> str:
        end = self.start + timedelta(hours=1)
        tokens = "token" if self.count == 1 else "tokens"
        return f"{self.start:%H:%M}–{end:%H:%M} UTC: {self.count} {tokens}"


@dataclass(frozen=True)
class AxisLabel:
    x: int
    y: int
    text: str


@dataclass(frozen=True)
class UsageChart:
    bars: list[HourBar]
    total: int
    peak: int
    last_used: datetime | None
    x_labels: list[AxisLabel]
    y_labels: list[AxisLabel]  # 0 and the peak, each with a gridline at its y
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = PLOT_LEFT
    plot_right: int = PLOT_LEFT + HOURS * SLOT
    plot_top: int = PLOT_TOP
    plot_height: int = PLOT_HEIGHT
    baseline: int = BASELINE
    bar_width: int = BAR
    slot_width: int = SLOT

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def last_used_ago(self) -> str:
        """How long ago the last token was issued: "Just now", "5 minutes ago"."""
        if self.last_used is None:
            return "Never"
        if timezone.now() - self.last_used < timedelta(minutes=1):
            return "Just now"
        return f"{timesince(self.last_used, depth=1)} ago"

    @property
    def summary(self) -> str:
        if not self.total:
            return "No tokens were issued in the last 24 hours."
        busiest = max(self.bars, key=lambda bar: bar.count)
        return (
            f"{self.total} token{'s' if self.total != 1 else ''} issued in the last 24 hours; "
            f"busiest hour {busiest.label}."
        )


def _hours(now: datetime) -> list[datetime]:
    """The starts of the last 24 whole hours, the current (partial) one last."""
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]


def oauth_app_usage(
    *, app: OAuthApp, org: Organization | None = None, now: datetime | None = None
) -> UsageChart:
    """The app's usage (only its tokens for `org` when given): two queries, whatever the volume.

    Counts run in the database, grouped by hour, on the (app, issued_at) index.
    """
    now = now or timezone.now()
    hours = _hours(now)
    tokens = IssuedToken.objects.filter(app=app).order_by()
    if org is not None:
        tokens = tokens.filter(organization=org)
    counts = {
        row["hour"].astimezone(UTC): row["n"]
        for row in tokens.filter(issued_at__gte=hours[0])
        .annotate(hour=TruncHour("issued_at", tzinfo=UTC))
        .values("hour")
        .annotate(n=Count("pk"))
    }
    last_used = tokens.aggregate(last=Max("issued_at"))["last"]
    return _chart([(hour, counts.get(hour, 0)) for hour in hours], last_used)


def _chart(
    series: list[tuple[datetime, int]], last_used: datetime | None
) -> UsageChart:
    peak = max(count for _, count in series)
    bars = []
    for i, (start, count) in enumerate(series):
        # A bar for any non-zero hour stays visible, however busy the peak hour was.
        height = max(round(count / peak * PLOT_HEIGHT), 2) if count else 0
        bars.append(
            HourBar(
                start=start,
                count=count,
                x=PLOT_LEFT + i * SLOT + (SLOT - BAR) // 2,
                y=BASELINE - height,
                height=height,
                slot_x=PLOT_LEFT + i * SLOT,
            )
        )
    x_labels = [
        AxisLabel(
            x=PLOT_LEFT + i * SLOT + SLOT // 2,
            y=BASELINE + 16,
            text=f"{start:%H:%M}",
        )
        for i, (start, _) in enumerate(series)
        if i % 6 == 0 or i == len(series) - 1
    ]
    y_labels = [AxisLabel(x=PLOT_LEFT - 6, y=BASELINE, text="0")]
    if peak:
        y_labels.append(AxisLabel(x=PLOT_LEFT - 6, y=PLOT_TOP, text=str(peak)))
    return UsageChart(
        bars=bars,
        total=sum(count for _, count in series),
        peak=peak,
        last_used=last_used,
        x_labels=x_labels,
        y_labels=y_labels,
    )
