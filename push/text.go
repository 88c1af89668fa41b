package push

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TextContentType is the media type of what WriteText writes: the
// Prometheus text exposition format 0.0.4.
const TextContentType = "text/plain; version=0.0.4; charset=utf-8"

// textBufferSize is the buffer WriteText writes through.
const textBufferSize = 32 << 10

// WriteText writes the sweep's metrics to w in the text exposition format
// (TextContentType). It writes them as it computes them, family by family,
// without building them: beyond its 32 KiB buffer (none when w is a
// *bufio.Writer) it holds about 20 bytes per result, the order it writes
// the targets in. The text is byte for byte what expfmt writes for the
// same families gathered from a Prometheus registry: families by name,
// series by label values. The only errors are w's.
//
// Per target (labels: the original's domain, target or url for the
// per-check metrics; check and target for the new ones; the value is
// always the normalised target address, never a display name):
//
//   - status and target_up are 1 up, 0 down. A result that says nothing
//     about the target — skipped (circuit open, backoff), unsupported (the
//     check cannot run here) or down before its first attempt (sweep
//     deadline) — reports the stored status instead, and nothing when that
//     is unknown.
//   - errors_total are counters holding the stored total of failures, so
//     they keep increasing across invocations; they are left out for a
//     target without a stored state.
//   - response_seconds is the last successful check's latency, left out
//     until there has been one.
//   - probe_duration_seconds is this sweep's latency (the successful
//     attempt's, or the last failed one's); left out when the result is not
//     an observation (see status).
//   - ssl_days_remaining and ssl_expiry_timestamp_seconds come from this
//     sweep's certificate, else from the last one stored (days then counted
//     from At).
//   - consecutive_failures, circuit_state and flapping come from the state.
//   - target_degraded is the state's Degraded latch, so it agrees with the
//     alerts: 1 from the degraded event to the degraded_resolved one,
//     whatever this sweep's result (a slow result below alert_threshold
//     leaves it 0; a down or skipped target keeps it).
//
// A tcp target gets the {check,target} metrics only: the original's
// per-check families are dns, ping, http (website) and tls (ssl) alone. A
// check this package does not know gets none.
//
// A target that appears twice in Results gets the metrics of its first
// result only (two would make a series appear twice, which Prometheus
// refuses).
//
// Per sweep: sweep_duration_seconds, alerts_pending,
// last_sweep_timestamp_seconds, and sweep_targets{result} counting the
// results by their status as the report shows it, with unsupported counted
// as skipped (the check was not made); all three results are always
// present, zero included.
func WriteText(w io.Writer, s Sweep) error {
	return newPlan(s.Results).writeText(w, &s)
}

// writeText writes s, whose plan p is, to w.
func (p *plan) writeText(w io.Writer, s *Sweep) error {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriterSize(w, textBufferSize)
	}
	t := textSink{w: bw}
	for f := range numFams {
		t.want, t.started = f, false
		if families[f].perSweep {
			sweepMetrics(&t, s, p.counts)
		} else {
			for _, i := range p.order {
				if c := families[f].check; c == "" || c == s.Results[i].Target.Check {
					p.target(&t, s, int(i))
				}
			}
		}
		if t.err != nil {
			return t.err
		}
	}
	return bw.Flush()
}

// textSink writes the metrics of one family, want, and drops the others.
// A family without a metric gets no HELP or TYPE line, as in a registry's
// exposition.
type textSink struct {
	w       *bufio.Writer
	want    fam
	started bool  // want's HELP and TYPE lines are written
	err     error // the first write error; nothing is written after it
}

func (t *textSink) add(f fam, v float64, l0, l1 string) {
	if f != t.want || t.err != nil {
		return
	}
	fi := &families[f]
	if !t.started {
		t.started = true
		b := append(t.w.AvailableBuffer(), "# HELP "...)
		b = append(b, fi.name...)
		b = append(b, ' ')
		b = appendEscaped(b, fi.help, false)
		b = append(b, "\n# TYPE "...)
		b = append(b, fi.name...)
		if fi.counter {
			b = append(b, " counter\n"...)
		} else {
			b = append(b, " gauge\n"...)
		}
		if _, t.err = t.w.Write(b); t.err != nil {
			return
		}
	}
	b := append(t.w.AvailableBuffer(), fi.name...)
	for n, value := range [2]string{l0, l1} {
		if n == len(fi.labels) {
			break
		}
		if n == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(b, fi.labels[n]...)
		b = append(b, `="`...)
		b = appendEscaped(b, value, true)
		b = append(b, '"')
	}
	if len(fi.labels) > 0 {
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	b = append(b, '\n')
	_, t.err = t.w.Write(b)
}

// appendEscaped appends s escaped as the text format wants: a backslash
// and a line feed always, a double quote in a label value.
func appendEscaped(b []byte, s string, quote bool) []byte {
	if !utf8.ValidString(s) {
		// The text format is UTF-8: the Pushgateway refuses a whole push
		// over one invalid value (a target name from the environment can
		// be any bytes), so such bytes become U+FFFD.
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	special := "\\\n"
	if quote {
		special = "\\\n\""
	}
	for {
		i := strings.IndexAny(s, special)
		if i < 0 {
			return append(b, s...)
		}
		b = append(b, s[:i]...)
		switch s[i] {
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '"':
			b = append(b, `\"`...)
		}
		s = s[i+1:]
	}
}

// appendFloat appends f as expfmt writes a sample value (its writeFloat):
// strconv's shortest 'g' form, with NaN, +Inf and -Inf spelt so, and a
// negative zero written 0.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, '1')
	case f == 0:
		return append(b, '0')
	case f == -1:
		return append(b, "-1"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
