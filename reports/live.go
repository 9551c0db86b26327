package reports

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/reboundhq/rebound/measure"
)

// ProbeKind labels the probe a live probe metric counts.
type ProbeKind string

// Probe kinds the runner reports.
const (
	ProbeAvailability ProbeKind = "availability" // the read+write availability probe
	ProbeRedundancy   ProbeKind = "redundancy"   // the replicas/health redundancy check
)

// Live holds the metrics a run updates while it goes, for a Prometheus that
// scrapes rebound during a game day (Serve). Every method is safe to call
// from many goroutines and costs a map lookup and an atomic add; the update
// methods (Probe, Write, Fault, Phase, Publish) do nothing on a nil *Live,
// so the runner can hold a nil one when live metrics are off. Every sample
// carries the run's id as a "run" label.
type Live struct {
	reg      *prometheus.Registry
	attempts *prometheus.CounterVec
	failures *prometheus.CounterVec
	invoked  *prometheus.CounterVec
	writes   *prometheus.CounterVec
	fault    *prometheus.GaugeVec
	phase    *prometheus.GaugeVec

	mu     sync.Mutex
	phases map[string]string // scenario → current phase

	final atomic.Pointer[prometheus.Registry] // set by Publish
}

// NewLive makes the live metrics of the run with this id.
func NewLive(runID string) *Live {
	l := &Live{reg: prometheus.NewRegistry(), phases: map[string]string{}}
	run := prometheus.Labels{"run": runID}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: run}, labels)
		l.reg.MustRegister(c)
		return c
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: run}, labels)
		l.reg.MustRegister(g)
		return g
	}
	l.attempts = counter("rebound_probe_attempts_total", "Probes run, by scenario and probe kind.", "scenario", "kind")
	l.failures = counter("rebound_probe_failures_total", "Probes that failed, by scenario and probe kind.", "scenario", "kind")
	l.invoked = counter("rebound_writes_invoked_total", "Writes the write probe issued.", "scenario")
	l.writes = counter("rebound_writes_total", "Writes the write probe completed, by outcome: acked, failed or indeterminate.", "scenario", "outcome")
	l.fault = gauge("rebound_fault_applied", "1 while the fault is applied, 0 once it is recovered.", "scenario", "fault")
	l.phase = gauge("rebound_phase", "1 for the phase the scenario is in, 0 for the phases it has left.", "scenario", "phase")
	return l
}

// Registry is where the live metrics live, for a caller that adds its own
// collectors (Go runtime, process) or gathers them in tests.
func (l *Live) Registry() *prometheus.Registry {
	if l == nil {
		return nil
	}
	return l.reg
}

// Probe counts one probe of kind for scenario, and a failure when !ok.
func (l *Live) Probe(scenario string, kind ProbeKind, ok bool) {
	if l == nil {
		return
	}
	l.attempts.WithLabelValues(scenario, string(kind)).Inc()
	if !ok {
		l.failures.WithLabelValues(scenario, string(kind)).Inc()
	} else {
		// Touch the series so a failure rate has a 0 to start from.
		l.failures.WithLabelValues(scenario, string(kind)).Add(0)
	}
}

// Write counts one write-probe history entry, as measure records it: OpInvoke
// when issued, then OpOK (acked), OpFail (failed) or OpInfo (indeterminate).
// Other op types are ignored; measure rejects them where it counts.
func (l *Live) Write(scenario string, op measure.OpType) {
	if l == nil {
		return
	}
	var outcome string
	switch op {
	case measure.OpInvoke:
		l.invoked.WithLabelValues(scenario).Inc()
		return
	case measure.OpOK:
		outcome = "acked"
	case measure.OpFail:
		outcome = "failed"
	case measure.OpInfo:
		outcome = "indeterminate"
	default:
		return
	}
	l.writes.WithLabelValues(scenario, outcome).Inc()
}

// Fault sets whether fault is applied in scenario: true right after the
// injector confirms it (T0), false once it is recovered.
func (l *Live) Fault(scenario, fault string, applied bool) {
	if l == nil {
		return
	}
	l.fault.WithLabelValues(scenario, fault).Set(boolValue(applied))
}

// Phase records that scenario entered phase (steady-state, inject, observe,
// recover, verify, cleanup, …): its series goes to 1 and the previous
// phase's to 0, so a graph shows the phases as steps.
func (l *Live) Phase(scenario, phase string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.phases[scenario]; ok && prev != phase {
		l.phase.WithLabelValues(scenario, prev).Set(0)
	}
	l.phases[scenario] = phase
	l.phase.WithLabelValues(scenario, phase).Set(1)
}

// Publish adds run's final metrics (those of the prometheus format) to what
// Handler serves, so the last scrapes before Serve stops see the results.
// It is part of the flush step: run must be finalized.
func (l *Live) Publish(run *Run) error {
	if l == nil {
		return nil
	}
	if !run.Finalized() {
		return ErrNotFinal
	}
	l.final.Store(finalRegistry(run))
	return nil
}

// gather serves the live metrics and, once published, the final ones.
func (l *Live) gather() ([]*dto.MetricFamily, error) {
	g := prometheus.Gatherers{l.reg}
	if f := l.final.Load(); f != nil {
		g = append(g, f)
	}
	return g.Gather()
}

// Handler serves the metrics in the Prometheus exposition formats.
func (l *Live) Handler() http.Handler {
	return promhttp.HandlerFor(prometheus.GathererFunc(l.gather), promhttp.HandlerOpts{
		// A half-broken gather still serves what it has: a scrape during
		// a game day is worth more than a clean error.
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// MetricsServer serves Live's metrics on a bound address; Live.Listen makes
// one.
type MetricsServer struct {
	ln  net.Listener
	srv *http.Server
}

// shutdownTimeout bounds how long Serve waits for scrapes in flight.
const shutdownTimeout = 5 * time.Second

// Listen binds addr now (so a busy port fails before the run starts, not
// after the fault is applied) and returns a server for /metrics on it.
// addr is what the user asked for; ":0" or "127.0.0.1:0" pick a free port,
// which Addr then tells.
func (l *Live) Listen(addr string) (*MetricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("live metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", l.Handler())
	return &MetricsServer{
		ln:  ln,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
	}, nil
}

// Addr is the address the server listens on.
func (s *MetricsServer) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until ctx is done — the stop step — then shuts down,
// letting scrapes in flight finish for up to a few seconds on a fresh
// context (ctx is already done by then). It returns nil after a clean stop.
func (s *MetricsServer) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("live metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("live metrics: stop: %w", err)
	}
	return nil
}

// Serve serves the live metrics on addr at /metrics until ctx is done; see
// Listen and MetricsServer.Serve.
func (l *Live) Serve(ctx context.Context, addr string) error {
	s, err := l.Listen(addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}
