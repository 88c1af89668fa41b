package route

import (
	"fmt"
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

// Active reports whether now falls in one of the window's occurrences,
// and if so when the latest one that has begun ends. The duration is
// elapsed time: a window from 01:30 for 2h on the night the clocks go
// forward ends at 04:30 local time.
func (w *Window) Active(now time.Time) (until time.Time, ok bool) {
	if w.sched == nil {
		return time.Time{}, false
	}
	// The first occurrence after now-Duration, and every one after it up
	// to now, holds now.
	t := w.sched.Next(now.Add(-w.Duration).In(w.Location))
	for n := 0; !t.IsZero() && !t.After(now) && n < maxOccurrences; n++ {
		until, ok = t.Add(w.Duration), true
		t = w.sched.Next(t)
	}
	return until.UTC(), ok
}

// Next is the window's next occurrence after now, for `config --routes`.
func (w *Window) Next(now time.Time) time.Time {
	if w.sched == nil {
		return time.Time{}
	}
	return w.sched.Next(now.In(w.Location)).UTC()
}
