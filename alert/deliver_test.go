package alert

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeNotifier answers from a list of errors (the last one repeats) and
// records the event IDs it was asked to send.
type fakeNotifier struct {
	name string
	errs []error

	mu    sync.Mutex
	calls []string
}

func (f *fakeNotifier) Name() string { return f.name }

func (f *fakeNotifier) Send(ctx context.Context, m Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, m.EventID)
	if len(f.errs) == 0 {
		return nil
	}
	err := f.errs[0]
	if len(f.errs) > 1 {
		f.errs = f.errs[1:]
	}
	return err
}

func (f *fakeNotifier) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

var (
	errUnavailable = &SendError{Provider: "fake", Status: 503}
	errRejected    = &SendError{Provider: "fake", Status: 400}
	errBoom        = errors.New("boom")
)

func TestRetrySend(t *testing.T) {
	tests := []struct {
		name      string
		errs      []error
		retry     Retry
		wantCalls int
		wantWaits []time.Duration
		wantErr   error // nil: delivered
	}{
		{"a first success needs no wait", nil, Retry{Attempts: 3, Backoff: time.Second}, 1, nil, nil},
		{"the backoff doubles after each failure", []error{errUnavailable}, Retry{Attempts: 4, Backoff: time.Second}, 4,
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, errUnavailable},
		{"the backoff is capped at a minute", []error{errUnavailable}, Retry{Attempts: 4, Backoff: 40 * time.Second}, 4,
			[]time.Duration{40 * time.Second, time.Minute, time.Minute}, errUnavailable},
		{"a rejected payload is not retried", []error{errRejected}, Retry{Attempts: 4, Backoff: time.Second}, 1, nil, errRejected},
		{"an error that does not say it is retryable is not retried", []error{errBoom}, Retry{Attempts: 4, Backoff: time.Second}, 1, nil, errBoom},
		{"zero attempts means one", []error{errUnavailable}, Retry{Backoff: time.Second}, 1, nil, errUnavailable},
		{"success after a failure ends the attempts", []error{errUnavailable, nil}, Retry{Attempts: 5, Backoff: time.Second}, 2,
			[]time.Duration{time.Second}, nil},
		{"the server's Retry-After replaces the backoff", []error{&SendError{Status: 429, RetryAfter: 3 * time.Second}, nil},
			Retry{Attempts: 2, Backoff: time.Second}, 2, []time.Duration{3 * time.Second}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &fakeNotifier{name: "fake", errs: tt.errs}
			var s sleepRecorder
			tt.retry.Sleep = s.sleep
			err := tt.retry.Send(context.Background(), n, Message{EventID: "e1"})
			if got := len(n.sent()); got != tt.wantCalls {
				t.Errorf("%d attempts, want %d", got, tt.wantCalls)
			}
			if !slices.Equal(s.waits(), tt.wantWaits) {
				t.Errorf("waits = %v, want %v", s.waits(), tt.wantWaits)
			}
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestRetryNeverWaitsPastTheDeadline(t *testing.T) {
	t.Run("a wait that would cross the deadline returns the last error at once", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		n := &fakeNotifier{name: "fake", errs: []error{errUnavailable}}
		var s sleepRecorder
		err := Retry{Attempts: 3, Backoff: 2 * time.Minute, Sleep: s.sleep}.Send(ctx, n, Message{EventID: "e1"})
		if !errors.Is(err, errUnavailable) || len(n.sent()) != 1 || len(s.waits()) != 0 {
			t.Errorf("err %v after %d attempts and waits %v; want the 503 after 1 attempt, no wait", err, len(n.sent()), s.waits())
		}
	})
	t.Run("a Retry-After that would cross the deadline returns at once", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n := &fakeNotifier{name: "fake", errs: []error{&SendError{Status: 429, RetryAfter: 30 * time.Second}}}
		var s sleepRecorder
		err := Retry{Attempts: 3, Backoff: time.Second, Sleep: s.sleep}.Send(ctx, n, Message{EventID: "e1"})
		if err == nil || len(n.sent()) != 1 || len(s.waits()) != 0 {
			t.Errorf("err %v after %d attempts and waits %v", err, len(n.sent()), s.waits())
		}
	})
	t.Run("the real timer ends with the context and returns the last error", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		n := &cancellingNotifier{cancel: cancel}
		start := time.Now()
		err := Retry{Attempts: 3, Backoff: time.Hour}.Send(ctx, n, Message{EventID: "e1"})
		if time.Since(start) > 5*time.Second || !errors.Is(err, errUnavailable) || n.calls != 1 {
			t.Errorf("err %v after %d attempts and %v", err, n.calls, time.Since(start))
		}
	})
	t.Run("the real timer waits out a short backoff", func(t *testing.T) {
		n := &fakeNotifier{name: "fake", errs: []error{errUnavailable, nil}}
		if err := (Retry{Attempts: 2, Backoff: 5 * time.Millisecond}).Send(context.Background(), n, Message{EventID: "e1"}); err != nil || len(n.sent()) != 2 {
			t.Errorf("err %v after %d attempts", err, len(n.sent()))
		}
	})
}

// cancellingNotifier fails retryably and cancels its context after its
// first attempt, from another goroutine, while Retry is (about to be)
// waiting.
type cancellingNotifier struct {
	cancel context.CancelFunc
	calls  int
}

func (c *cancellingNotifier) Name() string { return "cancelling" }
func (c *cancellingNotifier) Send(context.Context, Message) error {
	c.calls++
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.cancel()
	}()
	return errUnavailable
}

func msgs(ids ...string) []Message {
	out := make([]Message, len(ids))
	for i, id := range ids {
		out[i] = Message{EventID: id}
	}
	return out
}

// owedByAll is every message owed by every notifier.
func owedByAll(notifiers []Notifier, m []Message) []Owed {
	out := make([]Owed, len(notifiers))
	for i, n := range notifiers {
		out[i] = Owed{Notifier: n, Messages: m}
	}
	return out
}

func TestDeliver(t *testing.T) {
	t.Run("every notifier gets the messages it owes, oldest first, and deliveries come in the order owed", func(t *testing.T) {
		a, b := &fakeNotifier{name: "a"}, &fakeNotifier{name: "b"}
		out := Deliver(context.Background(), []Owed{
			{Notifier: a, Messages: msgs("e1", "e2", "e3")},
			{Notifier: b, Messages: msgs("e2")},
		}, Retry{Attempts: 1})
		var got []string
		for _, d := range out {
			for _, o := range d.Outcomes {
				if o.Err != nil || o.Provider != d.Provider {
					t.Errorf("%s/%s (delivery of %s): %v", o.Provider, o.EventID, d.Provider, o.Err)
				}
				got = append(got, o.Provider+"/"+o.EventID)
			}
		}
		if want := []string{"a/e1", "a/e2", "a/e3", "b/e2"}; !slices.Equal(got, want) {
			t.Errorf("outcomes %v, want %v", got, want)
		}
		if !slices.Equal(a.sent(), []string{"e1", "e2", "e3"}) || !slices.Equal(b.sent(), []string{"e2"}) {
			t.Errorf("a sent %v, b sent %v", a.sent(), b.sent())
		}
	})
	t.Run("after a retryable failure a provider's later messages are held back, and only that provider's", func(t *testing.T) {
		down := &fakeNotifier{name: "down", errs: []error{errUnavailable}}
		up := &fakeNotifier{name: "up"}
		var s sleepRecorder
		out := Deliver(context.Background(), owedByAll([]Notifier{down, up}, msgs("e1", "e2")), Retry{Attempts: 2, Sleep: s.sleep})
		d, u := out[0].Outcomes, out[1].Outcomes
		if !errors.Is(d[0].Err, errUnavailable) || !errors.Is(d[1].Err, ErrHeldBack) || u[0].Err != nil || u[1].Err != nil {
			t.Errorf("outcomes %+v", out)
		}
		if !slices.Equal(down.sent(), []string{"e1", "e1"}) {
			t.Errorf("the failing provider sent %v, want e1 twice and nothing after it", down.sent())
		}
	})
	t.Run("after a rejected message the next one is still tried", func(t *testing.T) {
		n := &fakeNotifier{name: "picky", errs: []error{errRejected, nil}}
		d := Deliver(context.Background(), owedByAll([]Notifier{n}, msgs("e1", "e2")), Retry{Attempts: 3})[0]
		if !errors.Is(d.Outcomes[0].Err, ErrRejected) || d.Outcomes[1].Err != nil || d.Rejected != 1 {
			t.Errorf("delivery %+v", d)
		}
	})
	t.Run("after a broken channel the provider's later messages are held back, and only that provider's", func(t *testing.T) {
		broken := &fakeNotifier{name: "broken", errs: []error{&SendError{Provider: "broken", Status: 404}}}
		up := &fakeNotifier{name: "up"}
		out := Deliver(context.Background(), owedByAll([]Notifier{broken, up}, msgs("e1", "e2")), Retry{Attempts: 3})
		b := out[0]
		if b.Broken == nil || b.Broken.Status != 404 || !errors.Is(b.Outcomes[1].Err, ErrHeldBack) || !errors.Is(b.Outcomes[1].Err, ErrChannelBroken) {
			t.Errorf("broken provider's delivery %+v", b)
		}
		if !slices.Equal(broken.sent(), []string{"e1"}) || len(up.sent()) != 2 || out[1].Broken != nil {
			t.Errorf("broken sent %v, up sent %v", broken.sent(), up.sent())
		}
	})
	t.Run("a context already over attempts nothing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		n := &fakeNotifier{name: "n"}
		d := Deliver(ctx, owedByAll([]Notifier{n}, msgs("e1", "e2")), Retry{Attempts: 3})[0]
		for _, o := range d.Outcomes {
			if !errors.Is(o.Err, ErrHeldBack) || !errors.Is(o.Err, context.Canceled) {
				t.Errorf("outcome %+v", o)
			}
		}
		if len(n.sent()) != 0 {
			t.Errorf("sent %v", n.sent())
		}
	})
	t.Run("nothing owed gives no outcomes", func(t *testing.T) {
		if out := Deliver(context.Background(), nil, Retry{}); len(out) != 0 {
			t.Errorf("deliveries %+v", out)
		}
		if d := Deliver(context.Background(), owedByAll([]Notifier{&fakeNotifier{name: "n"}}, nil), Retry{})[0]; d.Provider != "n" || len(d.Outcomes) != 0 {
			t.Errorf("delivery %+v", d)
		}
	})
}

// finishWatcher reports when its notifier's Send has returned.
type finishWatcher struct {
	Notifier
	once sync.Once
	done chan struct{}
}

func (f *finishWatcher) Send(ctx context.Context, m Message) error {
	err := f.Notifier.Send(ctx, m)
	f.once.Do(func() { close(f.done) })
	return err
}

func TestDeliverDoesNotWaitForAHangingProvider(t *testing.T) {
	// Slack comes first and hangs until the context ends; Discord answers
	// at once. Slack's handler, while still holding its request, sees
	// Discord's delivery finish; only then is the context ended.
	discordDone := make(chan struct{})
	slackArrived := make(chan struct{}, 1)
	slackSaw := make(chan bool, 1)
	slackRC := newReceiver(t, reply{hang: true, arrived: slackArrived})
	discordRC := newReceiver(t, reply{status: 200})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	slack := testProviders[0].make(slackRC.srv.URL)
	discord := &finishWatcher{Notifier: testProviders[3].make(discordRC.srv.URL), done: discordDone}
	go func() {
		select {
		case <-slackArrived:
		case <-ctx.Done():
			return
		}
		select {
		case <-discordDone:
			slackSaw <- true
		case <-ctx.Done():
			slackSaw <- false
		}
	}()

	outcomes := make(chan []Outcome, 1)
	go func() {
		ds := Deliver(ctx, owedByAll([]Notifier{slack, discord}, msgs("0123456789abcdef01234567")), Retry{Attempts: 3, Sleep: (&sleepRecorder{}).sleep})
		outcomes <- []Outcome{ds[0].Outcomes[0], ds[1].Outcomes[0]}
	}()

	select {
	case ok := <-slackSaw:
		if !ok {
			t.Fatal("Discord's delivery did not finish while Slack's request was in flight")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Discord's delivery did not finish while Slack hung (waited 10 s)")
	}
	cancel() // the sweep's deadline, in effect
	out := <-outcomes
	if out[1].Provider != "discord" || out[1].Err != nil {
		t.Errorf("discord outcome %+v, want delivered", out[1])
	}
	if out[0].Provider != "slack" || !errors.Is(out[0].Err, context.Canceled) {
		t.Errorf("slack outcome %+v, want cancelled", out[0])
	}
	if n := len(slackRC.received()); n != 1 {
		t.Errorf("slack got %d requests, want 1 (no retry once the context ended)", n)
	}
}

func ExampleDeliver() {
	slack := &fakeNotifier{name: "slack", errs: []error{errUnavailable}}
	discord := &fakeNotifier{name: "discord", errs: []error{&SendError{Provider: "discord", Status: 400}, nil}}
	teams := &fakeNotifier{name: "teams", errs: []error{&SendError{Provider: "teams", Status: 404}}}
	out := Deliver(context.Background(), []Owed{
		{Notifier: slack, Messages: msgs("e1", "e2")},
		{Notifier: discord, Messages: msgs("e1", "e2")},
		{Notifier: teams, Messages: msgs("e2")},
	}, Retry{Attempts: 1})
	for _, d := range out {
		for _, o := range d.Outcomes {
			fmt.Printf("%s %s: %v\n", o.Provider, o.EventID, o.Err)
		}
		if d.Broken != nil {
			fmt.Printf("%s is broken: %s\n", d.Provider, d.Broken.Diagnosis())
		}
	}
	// Output:
	// slack e1: fake: webhook answered HTTP 503 Service Unavailable
	// slack e2: held back behind an undelivered earlier message (e1)
	// discord e1: discord: webhook answered HTTP 400 Bad Request
	// discord e2: <nil>
	// teams e2: teams: webhook answered HTTP 404 Not Found
	// teams is broken: the Microsoft Teams webhook answered HTTP 404: the webhook was deleted or its URL is wrong
}

// fakeBatcher is a fakeNotifier that also takes batches: it answers each
// request (a Send or a SendBatch) from errs and records each request's
// event IDs.
type fakeBatcher struct {
	fakeNotifier
	max     int
	batches [][]string
	// reject, if set, is refused (400) in any request holding it.
	reject string
}

func (f *fakeBatcher) MaxBatch() int { return f.max }

func (f *fakeBatcher) SendBatch(ctx context.Context, ms []Message) error {
	f.mu.Lock()
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.EventID
	}
	f.batches = append(f.batches, ids)
	f.mu.Unlock()
	if f.reject != "" && slices.Contains(ids, f.reject) {
		return errRejected
	}
	return f.fakeNotifier.Send(ctx, Message{EventID: ids[0]})
}

func (f *fakeBatcher) sentBatches() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches)
}

func outcomeErrs(d Delivery) []error {
	out := make([]error, len(d.Outcomes))
	for i, o := range d.Outcomes {
		out[i] = o.Err
	}
	return out
}

func TestDeliverSendsABatchersMessagesInChunks(t *testing.T) {
	t.Run("five messages with a batch of two take three requests, in order, all delivered", func(t *testing.T) {
		b := &fakeBatcher{fakeNotifier: fakeNotifier{name: "am"}, max: 2}
		d := Deliver(context.Background(), owedByAll([]Notifier{b}, msgs("e1", "e2", "e3", "e4", "e5")), Retry{Attempts: 1})[0]
		if got, want := b.sentBatches(), [][]string{{"e1", "e2"}, {"e3", "e4"}, {"e5"}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("requests %v, want %v", got, want)
		}
		if len(b.sent()) != 3 {
			t.Errorf("Send was called besides SendBatch: %v", b.sent())
		}
		for _, o := range d.Outcomes {
			if o.Err != nil || o.Provider != "am" {
				t.Errorf("outcome %+v", o)
			}
		}
	})
	t.Run("a batch that fails retryably is retried whole, and later chunks are held back", func(t *testing.T) {
		b := &fakeBatcher{fakeNotifier: fakeNotifier{name: "am", errs: []error{errUnavailable}}, max: 2}
		var s sleepRecorder
		d := Deliver(context.Background(), owedByAll([]Notifier{b}, msgs("e1", "e2", "e3")), Retry{Attempts: 2, Sleep: s.sleep})[0]
		errs := outcomeErrs(d)
		if !errors.Is(errs[0], errUnavailable) || !errors.Is(errs[1], errUnavailable) || !errors.Is(errs[2], ErrHeldBack) {
			t.Errorf("outcomes %v", errs)
		}
		if got, want := b.sentBatches(), [][]string{{"e1", "e2"}, {"e1", "e2"}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("requests %v, want %v", got, want)
		}
	})
	t.Run("a broken channel holds back the later chunks and is reported", func(t *testing.T) {
		b := &fakeBatcher{fakeNotifier: fakeNotifier{name: "am", errs: []error{&SendError{Provider: "am", Status: 404}}}, max: 2}
		d := Deliver(context.Background(), owedByAll([]Notifier{b}, msgs("e1", "e2", "e3")), Retry{Attempts: 3})[0]
		errs := outcomeErrs(d)
		if d.Broken == nil || !errors.Is(errs[0], ErrChannelBroken) || !errors.Is(errs[1], ErrChannelBroken) ||
			!errors.Is(errs[2], ErrHeldBack) || !errors.Is(errs[2], ErrChannelBroken) {
			t.Errorf("delivery %+v", d)
		}
		if len(b.sentBatches()) != 1 {
			t.Errorf("requests %v, want one", b.sentBatches())
		}
	})
	t.Run("a rejected batch is sent again one by one, so only the refused message is dropped", func(t *testing.T) {
		b := &fakeBatcher{fakeNotifier: fakeNotifier{name: "am"}, max: 3, reject: "e2"}
		d := Deliver(context.Background(), owedByAll([]Notifier{b}, msgs("e1", "e2", "e3", "e4")), Retry{Attempts: 3})[0]
		errs := outcomeErrs(d)
		if errs[0] != nil || !errors.Is(errs[1], ErrRejected) || errs[2] != nil || errs[3] != nil || d.Rejected != 1 {
			t.Errorf("outcomes %v, rejected %d", errs, d.Rejected)
		}
		want := [][]string{{"e1", "e2", "e3"}, {"e1"}, {"e2"}, {"e3"}, {"e4"}}
		if got := b.sentBatches(); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("requests %v, want %v", got, want)
		}
	})
	t.Run("a context already over attempts nothing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		b := &fakeBatcher{fakeNotifier: fakeNotifier{name: "am"}, max: 2}
		d := Deliver(ctx, owedByAll([]Notifier{b}, msgs("e1", "e2", "e3")), Retry{Attempts: 3})[0]
		for _, o := range d.Outcomes {
			if !errors.Is(o.Err, ErrHeldBack) || !errors.Is(o.Err, context.Canceled) {
				t.Errorf("outcome %+v", o)
			}
		}
		if len(b.sentBatches()) != 0 {
			t.Errorf("requests %v", b.sentBatches())
		}
	})
	t.Run("a MaxBatch under one means batches of one", func(t *testing.T) {
		b := &fakeBatcher{fakeNotifier: fakeNotifier{name: "am"}, max: 0}
		Deliver(context.Background(), owedByAll([]Notifier{b}, msgs("e1", "e2")), Retry{Attempts: 1})
		if got := b.sentBatches(); len(got) != 2 {
			t.Errorf("requests %v, want two of one", got)
		}
	})
}

func TestOutcomesCarryTheMessagesResendFlag(t *testing.T) {
	m := msgs("e1", "e2")
	m[1].Resend = true
	for _, n := range []Notifier{&fakeNotifier{name: "one"}, &fakeBatcher{fakeNotifier: fakeNotifier{name: "batch"}, max: 10}} {
		t.Run(n.Name()+" outcomes copy Resend", func(t *testing.T) {
			d := Deliver(context.Background(), owedByAll([]Notifier{n}, m), Retry{Attempts: 1})[0]
			if d.Outcomes[0].Resend || !d.Outcomes[1].Resend {
				t.Errorf("outcomes %+v", d.Outcomes)
			}
		})
	}
}
