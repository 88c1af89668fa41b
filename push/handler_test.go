package push

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestLatest(t *testing.T) {
	var l Latest
	h := l.Handler()

	t.Run("before the first sweep answers 503 with a short text", func(t *testing.T) {
		code, body := get(t, h)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "no sweep has finished yet") {
			t.Errorf("got %d %q; want 503 saying no sweep has finished", code, body)
		}
	})
	t.Run("serves the sweep it was given, as WriteText writes it", func(t *testing.T) {
		sweep := realisticSweep(t)
		l.SetSweep(sweep)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("got %d; want 200", rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != TextContentType {
			t.Errorf("content type %q; want %q", ct, TextContentType)
		}
		if want := text(t, sweep); !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("served\n%s\nwant\n%s", rec.Body.Bytes(), want)
		}
		fams := parseText(t, rec.Body.Bytes())
		if v, ok := sample(fams, TargetUp, map[string]string{"check": "dns", "target": "example.com"}); !ok || v != 1 {
			t.Errorf("target_up of example.com = %v (present: %v); want 1", v, ok)
		}
	})
	t.Run("gzips it for a scraper that accepts gzip", func(t *testing.T) {
		sweep := realisticSweep(t)
		for _, tc := range []struct {
			accept string
			gzip   bool
		}{
			{"gzip", true},
			{"br, GZIP;q=0.5", true},
			{"identity", false},
			{"gzip;q=0", false},
			{"", false},
		} {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set("Accept-Encoding", tc.accept)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.Bytes()
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tc.gzip {
				t.Errorf("Accept-Encoding %q: gzipped %v; want %v", tc.accept, got, tc.gzip)
				continue
			}
			if tc.gzip {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(body, text(t, sweep)) {
				t.Errorf("Accept-Encoding %q: the body is not the sweep's text", tc.accept)
			}
		}
	})
	t.Run("serves the newest sweep once another sweep sets it", func(t *testing.T) {
		l.SetSweep(Sweep{At: sweepAt.Add(time.Minute)})
		_, body := get(t, h)
		fams := parseText(t, []byte(body))
		if _, ok := fams[TargetUp]; ok {
			t.Error("still serving the previous sweep's targets")
		}
		if v, _ := sample(fams, LastSweepTimestamp, nil); v != float64(sweepAt.Add(time.Minute).Unix()) {
			t.Errorf("last sweep %v; want the newest", v)
		}
	})

}

func TestLatestServesWhileSweepsSetIt(t *testing.T) {
	var l Latest
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	l.SetSweep(Sweep{At: sweepAt})

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			l.SetSweep(Sweep{At: sweepAt.Add(time.Duration(i) * time.Second)})
		}
	}()
	for range 50 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got %d: %s", resp.StatusCode, body)
		}
		parseText(t, body)
	}
	close(stop)
	wg.Wait()
}
