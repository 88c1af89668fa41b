package state

import (
	"reflect"
	"testing"
	"time"
)

func TestHoldEvents(t *testing.T) {
	t0 := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	ev := func(kind Kind, since time.Duration) Event {
		at := t0.Add(since)
		return Event{ID: eventID("web", kind, at), Kind: kind, TargetID: "web", At: at, Since: at}
	}
	down := ev(KindDown, 0)
	rec := down
	rec.Kind, rec.ID = KindRecovered, eventID("web", KindRecovered, down.Since)
	rem := down
	rem.Kind, rem.ID = KindReminder, eventID("web", KindReminder, t0.Add(time.Hour))
	down2 := ev(KindDown, 2*time.Hour)
	warn, crit, ok := ev(KindCertWarning, 0), ev(KindCertCritical, time.Hour), ev(KindCertOK, 2*time.Hour)
	circuit := ev(KindCircuitOpened, 0)
	// The same certificate's levels as the sweep gives them: each says
	// which level it follows.
	warnFromOK, critFromWarn, okFromCrit := warn, crit, ok
	warnFromOK.CertFrom, critFromWarn.CertFrom, okFromCrit.CertFrom = "ok", "warning", "critical"
	critFromOK := critFromWarn
	critFromOK.CertFrom = "ok"

	type step struct {
		silenced bool
		events   []Event
		send     []Event
	}
	cases := []struct {
		name     string
		held     []Event // before
		steps    []step
		heldLeft []Event
	}{
		{"not silenced: everything is sent", nil,
			[]step{{false, []Event{down}, []Event{down}}}, nil},
		{"down and recovered inside the silence: nothing is ever sent", nil,
			[]step{{true, []Event{down}, nil}, {true, []Event{rem}, nil}, {true, []Event{rec}, nil}, {false, nil, nil}}, nil},
		{"down inside, still down after: one down when it ends", nil,
			[]step{{true, []Event{down}, nil}, {true, []Event{rem}, nil}, {false, nil, []Event{down}}, {false, nil, nil}}, nil},
		{"down before, recovered inside: the recovery is sent when it ends", nil,
			[]step{{true, []Event{rec}, nil}, {false, nil, []Event{rec}}}, nil},
		{"down before, recovered and down again inside: both, in order", nil,
			[]step{{true, []Event{rec}, nil}, {true, []Event{down2}, nil}, {false, nil, []Event{rec, down2}}}, nil},
		{"held down, recovery after the silence: both sent, down first", nil,
			[]step{{true, []Event{down}, nil}, {false, []Event{rec}, []Event{down, rec}}}, nil},
		{"a certificate warning then critical inside: only critical is sent", nil,
			[]step{{true, []Event{warn}, nil}, {true, []Event{crit}, nil}, {false, nil, []Event{crit}}}, nil},
		{"a certificate warning and renewal inside: nothing", nil,
			[]step{{true, []Event{warn}, nil}, {true, []Event{ok}, nil}, {false, nil, nil}}, nil},
		{"warning announced, critical then renewal inside: the renewal is sent, not the critical", nil,
			[]step{{true, []Event{critFromWarn}, nil}, {true, []Event{okFromCrit}, nil}, {false, nil, []Event{okFromCrit}}}, nil},
		{"warning announced, critical inside, still critical after: the critical is sent", nil,
			[]step{{true, []Event{critFromWarn}, nil}, {false, nil, []Event{critFromWarn}}}, nil},
		{"warning, critical and renewal all inside: nothing", nil,
			[]step{{true, []Event{warnFromOK}, nil}, {true, []Event{critFromWarn}, nil}, {true, []Event{okFromCrit}, nil}, {false, nil, nil}}, nil},
		{"critical straight from ok, renewal inside: nothing", nil,
			[]step{{true, []Event{critFromOK}, nil}, {true, []Event{okFromCrit}, nil}, {false, nil, nil}}, nil},
		{"warning announced, renewed, then warning again and renewed inside: only the first renewal", nil,
			[]step{{true, []Event{okFromCrit}, nil}, {true, []Event{warnFromOK}, nil}, {true, []Event{okFromCrit}, nil}, {false, nil, []Event{okFromCrit}}}, nil},
		{"a held escalation survives the record", []Event{func() Event { e := critFromWarn; e.Escalates = true; return e }()},
			[]step{{true, []Event{okFromCrit}, nil}, {false, nil, []Event{okFromCrit}}}, nil},
		{"circuit events are not for people: never held", nil,
			[]step{{true, []Event{circuit}, []Event{circuit}}}, nil},
		{"still silenced: held stays", nil,
			[]step{{true, []Event{down}, nil}}, []Event{down}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := TargetState{ID: "web", Held: c.held}
			for i, st := range c.steps {
				send, _ := HoldEvents(&s, st.events, st.silenced)
				if len(send) == 0 {
					send = nil
				}
				if !reflect.DeepEqual(send, st.send) {
					t.Fatalf("step %d: sent %v, want %v", i+1, kinds(send), kinds(st.send))
				}
			}
			if len(s.Held) == 0 {
				s.Held = nil
			}
			if !reflect.DeepEqual(s.Held, c.heldLeft) {
				t.Errorf("held %v, want %v", kinds(s.Held), kinds(c.heldLeft))
			}
		})
	}
}

func kinds(es []Event) []Kind {
	var out []Kind
	for _, e := range es {
		out = append(out, e.Kind)
	}
	return out
}

func TestHeldEventsSurviveTheRecord(t *testing.T) {
	at := time.Date(2031, 1, 2, 3, 4, 5, 6, time.UTC)
	s := TargetState{ID: "web", Check: "http", Target: "https://web.test", Status: Down,
		Held: []Event{{ID: "abc", Kind: KindDown, TargetID: "web", At: at, Since: at, Labels: map[string]string{"team": "a"}, Group: "shop"}}}
	b, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !reflect.DeepEqual(got.Held, s.Held) {
		t.Errorf("held %+v, want %+v\n%s", got.Held, s.Held, b)
	}
	s.Held = nil
	plain, _ := Encode(s)
	if string(plain) == string(b) {
		t.Error("the held events are not in the record")
	}
}
