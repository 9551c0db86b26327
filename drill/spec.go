package drill

import (
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/scenarios"
)

// FromSpec returns the options of a drill written as a Drill document:
// base says where and how the drill runs (the engines and cluster, the
// journal, the allowlist, --yes, the output), and d what it does (the
// backup, the app, the scratch namespace, keep, the timeout, the probes,
// the RTO target), which replaces those fields of base.
func FromSpec(base Options, d *scenarios.Drill) (Options, error) {
	o := base
	o.Backup, o.Take = d.Backup, Take{}
	if d.Takes() {
		o.Backup = ""
		if d.Target == nil {
			return o, fmt.Errorf("%w: drill %s (%s) takes a backup but names no spec.target", ErrRefused, d.Name, d.Source)
		}
		sel, err := metav1.LabelSelectorAsSelector(&d.Target.LabelSelector)
		if err != nil {
			return o, fmt.Errorf("drill %s (%s): spec.target.labelSelector: %w", d.Name, d.Source, err)
		}
		o.Take = Take{Namespace: d.Target.Namespace, Selector: sel, Driver: string(d.Target.Driver)}
	}
	o.Namespace, o.ReuseNamespace, o.Keep = d.ScratchNamespace, d.ReuseNamespace, d.Keep
	o.Timeout, o.Probes = d.Timeout, d.Probes
	o.RTO = nil
	if d.RTO != nil {
		rto := *d.RTO
		o.RTO = &rto
	}
	return o, nil
}

// ProgressTo returns an Options.Progress that writes the engine's progress
// messages to w, a line each.
func ProgressTo(w io.Writer) func(backup.Progress) {
	return func(p backup.Progress) {
		if p.Message != "" {
			fmt.Fprintf(w, "  %s: %s\n", p.Phase, p.Message)
		}
	}
}
