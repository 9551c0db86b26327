package reports

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/prometheus/common/expfmt"
)

// prometheusFormat is metrics.prom: the run's final metrics in the
// Prometheus text exposition format, for node_exporter's textfile collector
// or anything that reads it. Push sends the same metrics to a Pushgateway.
type prometheusFormat struct{}

func (prometheusFormat) Name() string     { return "prometheus" }
func (prometheusFormat) FileName() string { return "metrics.prom" }

func (prometheusFormat) Write(w io.Writer, run *Run) error {
	mfs, err := finalRegistry(run).Gather()
	if err != nil {
		return fmt.Errorf("gather final metrics: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("encode %s: %w", mf.GetName(), err)
		}
	}
	return nil
}

// Labels of the per-scenario final metrics.
var scenarioLabels = []string{"run", "scenario", "disruption", "fault", "recovery"}

// finalMetrics are the gauges of a finished run. A measurement that could
// not be made has no sample at all, never a zero: absent means unknown, as
// null does in report.json.
type finalMetrics struct {
	pass, errored, restored        *prometheus.GaugeVec
	rto, rtoResolution, fullRed    *prometheus.GaugeVec
	lost, expectedLost, bugLost    *prometheus.GaugeVec
	unexpected, rpo, targetMet     *prometheus.GaugeVec
	rungLevel, aborted, cleanupBad *prometheus.GaugeVec
}

func gauge(reg *prometheus.Registry, name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	reg.MustRegister(g) // names are constants here: a clash is a programming error
	return g
}

// finalRegistry builds a registry holding run's final metrics.
func finalRegistry(run *Run) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	perTarget := append(append([]string{}, scenarioLabels...), "target")
	m := finalMetrics{
		pass:          gauge(reg, "rebound_scenario_pass", "1 when the scenario met every target (verdict PASS), else 0.", scenarioLabels...),
		errored:       gauge(reg, "rebound_scenario_error", "1 when the scenario could not run or be measured; its other metrics are then absent.", scenarioLabels...),
		restored:      gauge(reg, "rebound_service_restored", "1 when the service was restored within observation, else 0.", scenarioLabels...),
		rto:           gauge(reg, "rebound_rto_seconds", "Measured RTO: service restored minus fault applied. Absent when the service was not restored.", scenarioLabels...),
		rtoResolution: gauge(reg, "rebound_rto_resolution_seconds", "Resolution of the RTO: the availability probe's interval.", scenarioLabels...),
		fullRed:       gauge(reg, "rebound_time_to_full_redundancy_seconds", "Time from the fault to full redundancy. Absent when redundancy was not restored.", scenarioLabels...),
		lost:          gauge(reg, "rebound_lost_writes", "Acknowledged writes missing from the final read. Absent when data was not checked.", scenarioLabels...),
		expectedLost:  gauge(reg, "rebound_expected_lost_writes", "Restore only: lost writes acknowledged after the backup's cut, the loss a restore is expected to cause.", scenarioLabels...),
		bugLost:       gauge(reg, "rebound_lost_writes_before_backup", "Restore only: lost writes acknowledged before the backup's cut; any is a bug.", scenarioLabels...),
		unexpected:    gauge(reg, "rebound_unexpected_writes", "Ids the final read found that were never written; any is a bug. Absent when data was not checked.", scenarioLabels...),
		rpo:           gauge(reg, "rebound_rpo_seconds", "RPO in time: fault applied minus the recovery point. Absent when data was not checked.", scenarioLabels...),
		targetMet:     gauge(reg, "rebound_target_met", "1 when the scenario met the target (rto, rpoWrites, rpoTime), else 0.", perTarget...),
		rungLevel:     gauge(reg, "rebound_achieved_rung_level", "1-based ladder level achieved per disruption type; 0 when not even the lowest rung. Absent when no scenario of the type ran.", "run", "ladder", "disruption"),
		aborted:       gauge(reg, "rebound_run_aborted", "1 when the run was aborted and rolled back, else 0.", "run"),
		cleanupBad:    gauge(reg, "rebound_run_cleanup_incomplete", "Journal entries that could not be rolled back; anything above 0 needs `rebound cleanup`.", "run"),
	}
	for i := range run.Scenarios {
		s := &run.Scenarios[i]
		l := prometheus.Labels{"run": run.ID, "scenario": s.Name, "disruption": s.Disruption, "fault": s.Fault, "recovery": s.Recovery}
		m.pass.With(l).Set(boolValue(s.Status() == StatusPass))
		m.errored.With(l).Set(boolValue(s.Error != ""))
		if s.Error != "" {
			continue
		}
		r := &s.Result
		m.restored.With(l).Set(boolValue(r.ServiceRestored && r.RTO != nil))
		if r.RTO != nil {
			m.rto.With(l).Set(r.RTO.Duration().Seconds())
		}
		m.rtoResolution.With(l).Set(r.RTOResolution.Duration().Seconds())
		if r.TimeToFullRedundancy != nil {
			m.fullRed.With(l).Set(r.TimeToFullRedundancy.Duration().Seconds())
		}
		if r.DataChecked {
			m.lost.With(l).Set(float64(r.LostCount))
			m.unexpected.With(l).Set(float64(r.UnexpectedCount))
			if r.RestoredBackup != "" {
				m.expectedLost.With(l).Set(float64(r.ExpectedLossCount))
				m.bugLost.With(l).Set(float64(r.LostBeforeBackupCount))
			}
		}
		if r.RPO != nil {
			m.rpo.With(l).Set(r.RPO.Duration().Seconds())
		}
		for _, tr := range r.Verdict.Targets {
			tl := prometheus.Labels{"target": string(tr.Metric)}
			for k, v := range l {
				tl[k] = v
			}
			m.targetMet.With(tl).Set(boolValue(tr.Met))
		}
	}
	for _, a := range run.Achieved {
		if a.Covered {
			m.rungLevel.WithLabelValues(run.ID, run.Ladder, string(a.Disruption)).Set(float64(a.Level))
		}
	}
	m.aborted.WithLabelValues(run.ID).Set(boolValue(run.Aborted))
	m.cleanupBad.WithLabelValues(run.ID).Set(float64(len(run.CleanupIncomplete)))
	return reg
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Push sends run's final metrics (those of the prometheus format) to the
// Pushgateway at pushURL under job, replacing what an earlier push under
// that job left (HTTP PUT). Samples carry a run label, not a grouping key:
// grouping by run would keep every run's metrics in the Pushgateway
// forever. Credentials in pushURL's user info are sent as basic auth and
// kept out of errors. It is part of the flush step: run must be finalized.
func Push(ctx context.Context, pushURL, job string, run *Run) error {
	if !run.Finalized() {
		return ErrNotFinal
	}
	raw := pushURL
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw // what push.New does too
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("push metrics: Pushgateway URL: %w", err)
	}
	user := u.User
	u.User = nil
	p := push.New(u.String(), job).
		Gatherer(finalRegistry(run)).
		// Text, not the default protobuf: readable in a Pushgateway's
		// logs and accepted by every version of it.
		Format(expfmt.NewFormat(expfmt.TypeTextPlain))
	if user != nil {
		pass, _ := user.Password()
		p = p.BasicAuth(user.Username(), pass)
	}
	if err := p.PushContext(ctx); err != nil {
		return fmt.Errorf("push metrics to %s as job %s: %w", u.Redacted(), strconv.Quote(job), err)
	}
	return nil
}
