package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/scenarios"
)

// Env is what injectors act through.
type Env struct {
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	Lab       *lab.Lab // nil unless the target cluster is the lab
	Driver    apps.Driver
	Namespace string          // the app's namespace
	Selector  labels.Selector // the app's pods
	RunID     string
	Scenario  string
	// Records is where the run's probe records live (the driver's
	// Config.Prefix: an etcd key prefix, a PostgreSQL table).
	Records string
	Log     *slog.Logger
	// CloudSecret names the Secret Chaos Mesh's cloud chaos kinds read
	// their credentials from, for node power on AKS, EKS and GKE.
	CloudSecret string
	// Marks delivers manual fault and recovery marks (a signal, or
	// `rebound mark`); nil outside manual scenarios.
	Marks <-chan string
	// Out receives instructions for people (manual faults).
	Out io.Writer
}

// Plan is what a fault will do, worked out before anything changes.
type Plan struct {
	Fault       scenarios.FaultKind `json:"fault"`
	Description string              `json:"description"`
	// Targets names what it acts on: nodes, pods, PVCs, a zone.
	Targets []string `json:"targets"`
	// Objects are the objects it creates (Chaos Mesh resources), for dry runs.
	Objects []any `json:"objects,omitempty"`
	// Undo puts things back; empty for a one-shot fault.
	Undo []journal.Undo `json:"undo,omitempty"`
	// Duration is how long the fault lasts before the runner undoes it;
	// 0 when it stays until recovery.
	Duration time.Duration `json:"duration,omitempty"`

	apply func(ctx context.Context) error
}

// OneShot tells whether the fault has nothing to undo.
func (p *Plan) OneShot() bool { return len(p.Undo) == 0 }

// Injector plans one fault of a scenario.
type Injector interface {
	// Plan works out the fault against the live cluster (which node is the
	// leader's, which PVC a pod uses) without changing anything.
	Plan(ctx context.Context, env *Env) (*Plan, error)
}

// Apply injects a planned fault. The caller has journaled the plan first.
// It returns once the injector has confirmed the fault in effect, and that
// instant is T0: a Chaos Mesh object's status reports every target
// injected (and, for a cloud node stop, the node is NotReady or its VM shut
// down); the lab's agent has acknowledged; the API server has accepted a
// drain, taint or delete; a person has marked a manual fault. It polls
// until ctx's deadline, which bounds it (the inject phase timeout): a fault
// not confirmed by then returns an error wrapping ErrNotConfirmed, with
// the injector's own account of why. After any error the fault may be
// partly in effect: run the plan's undo, which covers all Apply may have
// created.
func Apply(ctx context.Context, p *Plan) error {
	if p.apply == nil {
		return fmt.Errorf("plan for %s cannot be applied: it was not made by Plan", p.Fault)
	}
	return p.apply(ctx)
}

// Recover runs a plan's undo steps, all of them even when one fails.
func Recover(ctx context.Context, env *Env, undo []journal.Undo) error {
	var errs []error
	for _, u := range undo {
		if err := RunUndo(ctx, env, u); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.Describe, err))
		}
	}
	return errors.Join(errs...)
}

// For returns the injector of a scenario's fault.
func For(f scenarios.Fault) (Injector, error) {
	mk, ok := registry[f.Kind]
	if !ok {
		return nil, fmt.Errorf("fault kind %q has no injector", f.Kind)
	}
	return mk(f), nil
}

var registry = map[scenarios.FaultKind]func(scenarios.Fault) Injector{}

func register(kind scenarios.FaultKind, mk func(scenarios.Fault) Injector) { registry[kind] = mk }

// injectorFunc adapts a plan function to Injector.
type injectorFunc func(ctx context.Context, env *Env) (*Plan, error)

func (f injectorFunc) Plan(ctx context.Context, env *Env) (*Plan, error) { return f(ctx, env) }
