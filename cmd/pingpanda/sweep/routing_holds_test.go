package sweep

import (
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/alert/route"
)

// A sweep works each window out once (holdsOf); the holds are HoldOf's,
// target by target, whichever windows are open.
func TestHoldsOfASweepAreEachTargetsHoldOf(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	subjects := benchSubjects(2000)
	for _, all := range []bool{false, true} {
		windows := benchWindows(t, all)
		for _, now := range []time.Time{
			time.Date(2030, 5, 8, 14, 20, 0, 0, time.UTC), // a Wednesday: the daily window alone
			time.Date(2030, 5, 12, 2, 30, 0, 0, berlin),   // a Sunday, 02:30 in Berlin: g0's too
			time.Date(2030, 5, 8, 3, 45, 0, 0, berlin),    // t3's
			time.Date(2030, 5, 8, 6, 10, 0, 0, berlin),    // dns's
			time.Date(2030, 5, 8, 23, 0, 0, 0, berlin),    // "*t1?"'s
			time.Date(2030, 5, 8, 0, 0, 0, 0, berlin),     // the daily window's edge
		} {
			sils := benchSilences(now)
			sils[3].Expires = now.Add(-time.Minute) // ended
			sels := Selectors(sils)
			got := holdsOf(len(subjects), func(i int) route.Subject { return subjects[i] }, sils, windows, now)
			held := 0
			for i, s := range subjects {
				if want := HoldOf(s, sils, sels, windows, now); got[i] != want {
					t.Fatalf("all=%t, %s: %s: holdsOf %+v, HoldOf %+v", all, now, s.ID, got[i], want)
				}
				if got[i].Active() {
					held++
				}
			}
			if held == 0 {
				t.Errorf("all=%t, %s: nothing held", all, now)
			}
		}
	}
}
