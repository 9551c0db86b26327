package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Names Chaos Mesh's controller uses, which the lab's controller keeps.
const (
	// Finalizer is Chaos Mesh's records finalizer: an experiment carrying
	// it is not removed until every target is recovered.
	Finalizer = "chaos-mesh/records"
	// AnnotationCleanFinalizer set to "forced" lets an experiment go
	// without recovering its targets.
	AnnotationCleanFinalizer       = "chaos-mesh.chaos-mesh.org/cleanFinalizer"
	annotationCleanFinalizerForced = "forced"
	// maxEvents is how many events a record keeps (Chaos Mesh's default).
	maxEvents = 100
)

// executor applies and recovers one kind's action on one record's target,
// as Chaos Mesh's ChaosImpl does: apply returns Injected once the target
// is injected, recover NotInjected once it is back. An error leaves the
// record where it was (its phase is returned with the error).
type executor interface {
	apply(ctx context.Context, obj v1alpha1.InnerObject, records []*v1alpha1.Record, i int) (v1alpha1.Phase, error)
	recover(ctx context.Context, obj v1alpha1.InnerObject, records []*v1alpha1.Record, i int) (v1alpha1.Phase, error)
}

// refusedError is an action the lab cannot execute at all (a NetworkChaos
// delay without netem): retrying does not help, so it is not retried.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

func refused(format string, args ...any) error {
	return &refusedError{msg: fmt.Sprintf(format, args...)}
}

// outcome is what one reconcile of an experiment decided.
type outcome struct {
	// finalizer: whether the object should carry Finalizer.
	finalizer bool
	// requeueAfter asks for another reconcile then (the end of the
	// duration); retry, a failed step, asks for one soon, with back-off.
	requeueAfter time.Duration
	retry        error
}

// reconcile moves an executed experiment one step, in place, the way
// Chaos Mesh's controllers do together: the records finalizer on a live
// object, the desired phase (Stop once deleted, its duration over, or
// paused; else Run), the records (the targets, selected once), applying or
// recovering each record towards the desired phase, the conditions, and
// letting a deleted object go once every record is recovered.
//
// It reports what it did as Chaos Mesh's controller does, through event
// (a Kubernetes Event on the experiment): Started, Paused, TimeUp or
// Deleted when the desired phase changes, Applied or Recovered per
// target, Failed with the cause.
func (c *Controller) reconcile(ctx context.Context, obj v1alpha1.InnerObjectWithSelector, ex executor, event func(eventtype, reason, message string)) outcome {
	st := obj.GetStatus()
	now := c.now()
	var out outcome
	was := st.Experiment.DesiredPhase

	// Desired phase.
	phase, why := v1alpha1.RunningPhase, ""
	exceeded, untilStop, err := obj.DurationExceeded(now)
	if err != nil {
		c.log.Warn("chaos experiment duration", "object", objName(obj), "err", err)
	}
	switch {
	case obj.IsDeleted():
		phase, why = v1alpha1.StoppedPhase, "Deleted"
	case obj.IsOneShot():
	case exceeded:
		phase, why = v1alpha1.StoppedPhase, "TimeUp"
	case obj.IsPaused():
		phase, why = v1alpha1.StoppedPhase, "Paused"
		out.requeueAfter = untilStop
	default:
		out.requeueAfter = untilStop
	}
	st.Experiment.DesiredPhase = phase
	if phase != was {
		switch why {
		case "Deleted":
			event(corev1.EventTypeNormal, why, "Experiment has been deleted")
		case "TimeUp":
			event(corev1.EventTypeNormal, why, "Time up according to the duration")
		case "Paused":
			event(corev1.EventTypeNormal, why, "Experiment has been paused")
		default:
			event(corev1.EventTypeNormal, "Started", "Experiment has started")
		}
	}

	// Records: the targets, selected once, as Chaos Mesh does.
	var selectErr error
	if st.Experiment.Records == nil && !obj.IsDeleted() {
		st.Experiment.Records, selectErr = c.selectRecords(ctx, obj)
		if selectErr != nil {
			event(corev1.EventTypeWarning, "Failed", "Failed to select targets: "+selectErr.Error())
			c.log.Info("chaos experiment selects nothing", "object", objName(obj), "err", selectErr)
			if !errors.Is(selectErr, errNoPodSelected) {
				out.retry = selectErr
			}
		}
	}
	records := st.Experiment.Records

	var refusal error
	for i, r := range records {
		// The cycle is Not Injected -> Injected -> Not Injected: a record
		// away from the desired phase moves along it, as in Chaos Mesh.
		if (phase != v1alpha1.RunningPhase || r.Phase == v1alpha1.Injected) && (phase != v1alpha1.StoppedPhase || r.Phase == v1alpha1.NotInjected) {
			continue
		}
		op := v1alpha1.Recover
		if strings.HasPrefix(string(r.Phase), string(v1alpha1.NotInjected)) {
			op = v1alpha1.Apply
		}
		var next v1alpha1.Phase
		var err error
		if op == v1alpha1.Apply {
			next, err = ex.apply(ctx, obj, records, i)
		} else {
			next, err = ex.recover(ctx, obj, records, i)
		}
		r.Phase = next
		switch {
		case err != nil:
			addEvent(r, v1alpha1.TypeFailed, op, err.Error())
			event(corev1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to %s chaos: %v", strings.ToLower(string(op)), err))
			var re *refusedError
			if errors.As(err, &re) {
				refusal = err
			} else {
				out.retry = fmt.Errorf("%s %s: %w", strings.ToLower(string(op)), r.Id, err)
			}
			c.log.Warn("chaos "+strings.ToLower(string(op)), "object", objName(obj), "target", r.Id, "err", err)
		case op == v1alpha1.Apply && next == v1alpha1.Injected:
			r.InjectedCount++
			addEvent(r, v1alpha1.TypeSucceeded, op, "")
			event(corev1.EventTypeNormal, "Applied", "Successfully apply chaos for "+r.Id)
			c.log.Info("chaos injected", "object", objName(obj), "target", r.Id)
		case op == v1alpha1.Recover && next == v1alpha1.NotInjected:
			r.RecoveredCount++
			addEvent(r, v1alpha1.TypeSucceeded, op, "")
			event(corev1.EventTypeNormal, "Recovered", "Successfully recover chaos for "+r.Id)
			c.log.Info("chaos recovered", "object", objName(obj), "target", r.Id)
		}
	}

	st.Conditions = conditions(obj, selectErr, refusal)

	// The finalizer: on a live object; gone once a deleted one has every
	// target recovered (or its owner forces it).
	out.finalizer = !obj.IsDeleted()
	if obj.IsDeleted() && !allPhase(records, v1alpha1.NotInjected) && obj.GetAnnotations()[AnnotationCleanFinalizer] != annotationCleanFinalizerForced {
		out.finalizer = true
	}
	return out
}

// selectRecords selects the targets of every selector of obj, one record
// each in the Not Injected phase. Any selector that selects nothing fails
// the whole selection, as in Chaos Mesh.
func (c *Controller) selectRecords(ctx context.Context, obj v1alpha1.InnerObjectWithSelector) ([]*v1alpha1.Record, error) {
	specs := obj.GetSelectorSpecs()
	if len(specs) == 0 {
		return nil, fmt.Errorf("%s has no selector for its action", objName(obj))
	}
	var records []*v1alpha1.Record
	for _, key := range sortedKeys(specs) {
		targets, err := c.sel.selectTargets(ctx, specs[key], obj.GetNamespace())
		if err == nil && len(targets) == 0 {
			err = errNoPodSelected
		}
		if err != nil {
			return nil, fmt.Errorf("select targets of %s: %w", selectorField(key), err)
		}
		for _, t := range targets {
			records = append(records, &v1alpha1.Record{Id: t.id(), SelectorKey: key, Phase: v1alpha1.NotInjected})
		}
	}
	return records, nil
}

// selectorField names a selector key as a field: "." is spec.selector,
// ".Target" spec.target.selector.
func selectorField(key string) string {
	if key == "." {
		return "spec.selector"
	}
	return "spec." + strings.ToLower(strings.TrimPrefix(key, ".")) + ".selector"
}

func addEvent(r *v1alpha1.Record, typ v1alpha1.RecordEventType, op v1alpha1.RecordEventOperation, msg string) {
	if len(r.Events) >= maxEvents {
		r.Events = r.Events[1:]
	}
	r.Events = append(r.Events, *v1alpha1.NewRecordEvent(typ, op, msg, metav1.Now()))
}

func allPhase(records []*v1alpha1.Record, p v1alpha1.Phase) bool {
	for _, r := range records {
		if r.Phase != p {
			return false
		}
	}
	return true
}

// conditions are Chaos Mesh's four, computed from the records as its
// condition controller does: Selected once there are records, AllInjected
// and AllRecovered when there are records and every one is in that phase,
// Paused with the pause annotation. Where the lab knows why a condition is
// False (nothing selected, an action it cannot execute) the reason says
// so; Chaos Mesh leaves reasons empty.
func conditions(obj v1alpha1.InnerObject, selectErr, refusal error) []v1alpha1.ChaosCondition {
	records := obj.GetStatus().Experiment.Records
	status := func(ok bool) corev1.ConditionStatus {
		if ok {
			return corev1.ConditionTrue
		}
		return corev1.ConditionFalse
	}
	selected := v1alpha1.ChaosCondition{Type: v1alpha1.ConditionSelected, Status: status(records != nil)}
	if selectErr != nil {
		selected.Reason = selectErr.Error()
	}
	injected := v1alpha1.ChaosCondition{Type: v1alpha1.ConditionAllInjected, Status: status(records != nil && allPhase(records, v1alpha1.Injected))}
	if refusal != nil && injected.Status == corev1.ConditionFalse {
		injected.Reason = refusal.Error()
	}
	return []v1alpha1.ChaosCondition{
		selected,
		injected,
		{Type: v1alpha1.ConditionAllRecovered, Status: status(records != nil && allPhase(records, v1alpha1.NotInjected))},
		{Type: v1alpha1.ConditionPaused, Status: status(obj.IsPaused())},
	}
}

// notExecuted is the status of an experiment of a kind the lab does not
// execute: nothing selected, nothing injected, and why.
func notExecuted(obj v1alpha1.InnerObject, kind string) {
	st := obj.GetStatus()
	reason := notExecutedReason(kind)
	st.Experiment.Records = nil
	st.Conditions = []v1alpha1.ChaosCondition{
		{Type: v1alpha1.ConditionSelected, Status: corev1.ConditionFalse, Reason: NotExecuted},
		{Type: v1alpha1.ConditionAllInjected, Status: corev1.ConditionFalse, Reason: reason},
		{Type: v1alpha1.ConditionAllRecovered, Status: corev1.ConditionFalse},
		{Type: v1alpha1.ConditionPaused, Status: map[bool]corev1.ConditionStatus{true: corev1.ConditionTrue, false: corev1.ConditionFalse}[obj.IsPaused()]},
	}
}

// NotExecuted is the Selected condition's reason on a kind the lab does not
// execute; the AllInjected condition's reason starts with NotExecutedPrefix
// and says which kinds it executes.
const (
	NotExecuted       = "NotExecutedInLab"
	NotExecutedPrefix = NotExecuted + ": "
)

func notExecutedReason(kind string) string {
	return fmt.Sprintf("%sthe rebound lab does not execute %s; it executes %s. Run this experiment on a cluster with Chaos Mesh installed", NotExecutedPrefix, kind, strings.Join(executedSummary(), " and "))
}

func executedSummary() []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(executed)) {
		out = append(out, k+" ("+strings.Join(executed[k], ", ")+")")
	}
	return out
}

func objName(obj metav1.Object) string { return obj.GetNamespace() + "/" + obj.GetName() }
