package route

import (
	"fmt"
	"strings"
	"time"
	// Time zones are embedded: a Lambda or distroless image has no
	// /usr/share/zoneinfo, and a maintenance window in Europe/Berlin must
	// still open at 02:00 Berlin time.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// cronParser reads the standard 5 fields (minute hour day-of-month month
// day-of-week) and the @daily-style descriptors, as crontab does.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// MaxWindow bounds a maintenance window's duration.
const MaxWindow = 31 * 24 * time.Hour

// Window is a maintenance window: the monitors it matches are held from
// each time its schedule fires, in its time zone, for Duration.
type Window struct {
	Match    Match // Kinds unused
	Schedule string
	Duration time.Duration
	Location *time.Location
	// Where is the window's place in the monitors file.
	Where string

	sched cron.Schedule
}

// NewWindow checks and compiles a window. The schedule is 5 cron fields
// or a descriptor (@daily, @weekly…); timezone is an IANA name ("" is
// UTC); duration is from 1 minute to 31 days.
func NewWindow(m Match, schedule string, duration time.Duration, timezone string) (Window, error) {
	loc := time.UTC
	if timezone != "" {
		l, err := time.LoadLocation(timezone)
		if err != nil || timezone == "Local" {
			return Window{}, fmt.Errorf("timezone %q: not an IANA time zone name (Europe/Berlin, America/New_York, UTC)", timezone)
		}
		loc = l
	}
	if f := strings.Fields(schedule); len(f) > 0 && (strings.HasPrefix(f[0], "@every") || strings.HasPrefix(f[0], "CRON_TZ=") || strings.HasPrefix(f[0], "TZ=")) {
		// @every counts from whenever it is asked, not from a fixed
		// time, and a zone in the schedule contradicts timezone.
		return Window{}, fmt.Errorf("schedule %q: @every and CRON_TZ=/TZ= are not taken: give 5 cron fields or @daily, @weekly…, and the zone in timezone", schedule)
	}
	sched, err := cronParser.Parse(schedule)
	if err != nil {
		return Window{}, fmt.Errorf("schedule %q: %w (want 5 fields: minute hour day-of-month month day-of-week, e.g. \"0 2 * * SUN\")", schedule, err)
	}
	if duration < time.Minute || duration > MaxWindow {
		return Window{}, fmt.Errorf("duration %s: want from 1m to %s", duration, MaxWindow)
	}
	return Window{Match: m, Schedule: schedule, Duration: duration, Location: loc, sched: sched}, nil
}

// maxOccurrences bounds the occurrences Active walks through: a window
// firing every minute for 31 days overlaps itself 44,640 times.
const maxOccurrences = 50_000

// slack covers the difference between wall-clock and elapsed time around
// a change of a zone's offset (two hours at most, in practice one).
const slack = 3 * time.Hour

// The schedule is read in wall-clock time, as crontab reads it: the
// window's zone's local time is written as if it were UTC, the cron
// fields are matched there, and each start is turned back into an
// instant of the zone. So a start the spring change skips (02:30 on the
// night 02:00 becomes 03:00) still opens the window, at the instant 02:30
// would have been (03:30 summer time), rather than being dropped, which
// is what robfig/cron does in the zone itself; a start the autumn change
// repeats opens it once.

// wall is t's local time in loc, written as UTC.
func wall(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// instant is the instant of a wall-clock time of loc; of a time the
// zone shows twice, the first.
func instant(w time.Time, loc *time.Location) time.Time {
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
	for _, back := range []time.Duration{2 * time.Hour, time.Hour, 30 * time.Minute} {
		if e := t.Add(-back); wall(e, loc).Equal(w) {
			return e
		}
	}
	return t
}

// Active reports whether now falls in one of the window's occurrences,
// and if so when the latest one that has begun ends. The duration is
// elapsed time: a window from 01:30 for 2h on the night the clocks go
// forward ends at 04:30 local time.
func (w *Window) Active(now time.Time) (until time.Time, ok bool) {
	if w.sched == nil {
		return time.Time{}, false
	}
	wn := wall(now, w.Location)
	t := w.sched.Next(wn.Add(-w.Duration - slack))
	for n := 0; !t.IsZero() && !t.After(wn.Add(slack)) && n < maxOccurrences; n++ {
		start := instant(t, w.Location)
		if end := start.Add(w.Duration); !start.After(now) && now.Before(end) && end.After(until) {
			until, ok = end, true
		}
		t = w.sched.Next(t)
	}
	return until.UTC(), ok
}

// Next is the start of the window's next occurrence after now, for
// `config --routes`.
func (w *Window) Next(now time.Time) time.Time {
	if w.sched == nil {
		return time.Time{}
	}
	t := w.sched.Next(wall(now, w.Location).Add(-slack))
	for n := 0; !t.IsZero() && n < maxOccurrences; n++ {
		if start := instant(t, w.Location); start.After(now) {
			return start.UTC()
		}
		t = w.sched.Next(t)
	}
	return time.Time{}
}
