package push

import (
	"github.com/prometheus/client_golang/prometheus"
)

// referenceRegistry is the registry path WriteText replaced (it was
// push.Registry until the text was all production used): the sweep's
// metrics built as const metrics in a client_golang registry. It is kept
// only as BenchmarkExposition's reference, which also checks that its
// exposition is WriteText's, byte for byte.
func referenceRegistry(s Sweep) *prometheus.Registry {
	c := constSink{}
	for f := range numFams {
		fi := &families[f]
		c.descs[f] = prometheus.NewDesc(fi.name, fi.help, fi.labels, nil)
	}
	p := newPlan(s.Results)
	for _, i := range p.order {
		p.target(&c, &s, int(i))
	}
	sweepMetrics(&c, &s, p.counts)
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{descs: c.descs[:], metrics: c.metrics})
	return reg
}

// collector hands out metrics computed once, from one sweep.
type collector struct {
	descs   []*prometheus.Desc
	metrics []prometheus.Metric
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics {
		ch <- m
	}
}

// constSink builds const metrics, for referenceRegistry.
type constSink struct {
	descs   [numFams]*prometheus.Desc
	metrics []prometheus.Metric
}

func (c *constSink) add(f fam, v float64, l0, l1 string) {
	typ := prometheus.GaugeValue
	if families[f].counter {
		typ = prometheus.CounterValue
	}
	labels := [2]string{l0, l1}
	c.metrics = append(c.metrics, prometheus.MustNewConstMetric(c.descs[f], typ, v, labels[:len(families[f].labels)]...))
}
