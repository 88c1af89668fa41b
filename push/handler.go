package push

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Latest holds the newest sweep's registry for serve mode's /metrics. The
// zero value is ready to use and holds nothing; it is safe for concurrent
// use (a sweep calls Set while scrapes are served).
type Latest struct {
	h atomic.Pointer[http.Handler]
}

// Set makes reg the registry served from now on; nil goes back to serving
// nothing.
func (l *Latest) Set(reg prometheus.Gatherer) {
	if reg == nil {
		l.h.Store(nil)
		return
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	l.h.Store(&h)
}

// Handler serves the registry last Set. Until then it answers 503 Service
// Unavailable with a short text rather than an empty page, so a scrape
// fails (up is 0) while no sweep has finished: a serve process stuck in its
// first sweep does not look healthy.
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
