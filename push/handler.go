package push

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// Latest holds the newest sweep's metrics for serve mode's /metrics. The
// zero value is ready to use and holds nothing; it is safe for concurrent
// use (a sweep sets it while scrapes are served).
type Latest struct {
	h atomic.Pointer[http.Handler]
}

// SetSweep makes s the sweep served from now on. Each scrape writes its
// metrics afresh with WriteText (gzipped when the scraper accepts it), so
// what is held between scrapes is s itself, not its metrics. s must not
// change once set: its Results and States are read by every scrape.
func (l *Latest) SetSweep(s Sweep) {
	var h http.Handler = &sweepHandler{sweep: s, plan: newPlan(s.Results)}
	l.h.Store(&h)
}

// Handler serves the sweep last set. Until then it answers 503
// Service Unavailable with a short text rather than an empty page, so a
// scrape fails (up is 0) while no sweep has finished: a serve process stuck
// in its first sweep does not look healthy.
func (l *Latest) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := l.h.Load()
		if h == nil {
			http.Error(w, "pingpanda: no sweep has finished yet", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	})
}

// sweepHandler serves one sweep's metrics in the text format.
type sweepHandler struct {
	sweep Sweep
	plan  *plan
}

func (h *sweepHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", TextContentType)
	w.Header().Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		// An error is the scraper gone: there is no one to tell.
		h.plan.writeText(w, &h.sweep)
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if h.plan.writeText(zw, &h.sweep) == nil {
		zw.Close()
	}
}

// acceptsGzip reports whether an Accept-Encoding header accepts gzip:
// it names gzip with a quality other than 0.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err != nil || q > 0
		}
		return true
	}
	return false
}
