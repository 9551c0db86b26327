package chaosmesh

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// Injection is what a Chaos Mesh object's status says of its targets, as
// Chaos Mesh's controller last wrote it.
type Injection struct {
	// Injected is true when every target Chaos Mesh selected is injected:
	// there is at least one target and each record's phase is Injected,
	// or the controller reports AllInjected and Selected both True.
	Injected bool
	// Targets counts the status's records (one per selected pod, container
	// or cloud machine); InjectedTargets those whose phase is Injected.
	Targets, InjectedTargets int
	// Message says why not, in Chaos Mesh's own words where it has any:
	// its conditions that are not as wanted, with their reasons, and the
	// latest event of each target not injected. Empty when Injected.
	Message string
}

// ReadInjection reads obj back from the cluster and reports its status.
func ReadInjection(ctx context.Context, dyn dynamic.Interface, obj Object) (Injection, error) {
	gvr, err := GVR(obj)
	if err != nil {
		return Injection{}, err
	}
	u, err := dyn.Resource(gvr).Namespace(obj.GetNamespace()).Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return Injection{}, fmt.Errorf("read %s %s/%s: %w", gvr.Resource, obj.GetNamespace(), obj.GetName(), err)
	}
	return InjectionOf(u)
}

// InjectionOf reports the status of an object read through a dynamic
// client. Every Chaos Mesh kind inlines the same ChaosStatus, so one
// decoding serves them all; fields particular to a kind are ignored.
func InjectionOf(u *unstructured.Unstructured) (Injection, error) {
	raw, found, err := unstructured.NestedFieldNoCopy(u.Object, "status")
	if err != nil {
		return Injection{}, fmt.Errorf("status of %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	var st v1alpha1.ChaosStatus
	if found && raw != nil {
		data, err := json.Marshal(raw)
		if err != nil {
			return Injection{}, fmt.Errorf("status of %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		if err := json.Unmarshal(data, &st); err != nil {
			return Injection{}, fmt.Errorf("status of %s %s/%s is not a Chaos Mesh status: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
	return injectionOf(&st), nil
}

func injectionOf(st *v1alpha1.ChaosStatus) Injection {
	var in Injection
	var notInjected []string
	for _, r := range st.Experiment.Records {
		if r == nil {
			continue
		}
		in.Targets++
		if r.Phase == v1alpha1.Injected {
			in.InjectedTargets++
			continue
		}
		msg := fmt.Sprintf("%s is %q", r.Id, r.Phase)
		if n := len(r.Events); n > 0 {
			ev := r.Events[n-1]
			msg += fmt.Sprintf(" (last event: %s %s", ev.Operation, ev.Type)
			if ev.Message != "" {
				msg += ": " + ev.Message
			}
			msg += ")"
		}
		notInjected = append(notInjected, msg)
	}
	cond := map[v1alpha1.ChaosConditionType]v1alpha1.ChaosCondition{}
	for _, c := range st.Conditions {
		cond[c.Type] = c
	}
	isTrue := func(t v1alpha1.ChaosConditionType) bool { return cond[t].Status == corev1.ConditionTrue }
	stopped := st.Experiment.DesiredPhase == v1alpha1.StoppedPhase

	// Chaos Mesh computes AllInjected over the records, so with none it is
	// vacuously True: it counts only beside Selected, which says targets
	// were found. A record not injected outweighs a stale condition.
	allRecords := in.Targets > 0 && in.InjectedTargets == in.Targets
	byCondition := isTrue(v1alpha1.ConditionAllInjected) && isTrue(v1alpha1.ConditionSelected) && in.InjectedTargets == in.Targets
	in.Injected = !stopped && !isTrue(v1alpha1.ConditionPaused) && (allRecords || byCondition)
	if in.Injected {
		return in
	}

	var why []string
	noStatus := len(st.Conditions) == 0 && in.Targets == 0 && st.Experiment.DesiredPhase == ""
	if noStatus {
		why = append(why, "Chaos Mesh has written no status on it: is its controller running in the cluster and watching this namespace?")
	}
	if stopped {
		why = append(why, "its desired phase is Stop (paused, or its duration is over)")
	}
	for _, t := range []v1alpha1.ChaosConditionType{v1alpha1.ConditionSelected, v1alpha1.ConditionAllInjected, v1alpha1.ConditionPaused} {
		c, ok := cond[t]
		if !ok {
			continue
		}
		want := corev1.ConditionTrue
		if t == v1alpha1.ConditionPaused {
			want = corev1.ConditionFalse
		}
		if c.Status == want {
			continue
		}
		s := fmt.Sprintf("condition %s is %s", t, c.Status)
		if c.Reason != "" {
			s += ": " + c.Reason
		}
		why = append(why, s)
	}
	if !noStatus && in.Targets == 0 && !isTrue(v1alpha1.ConditionSelected) {
		why = append(why, "no target selected yet")
	}
	if in.Targets > 0 {
		why = append(why, fmt.Sprintf("%d of %d targets injected", in.InjectedTargets, in.Targets))
	}
	why = append(why, notInjected...)
	if len(why) == 0 {
		why = append(why, "not every target is reported injected")
	}
	in.Message = strings.Join(why, "; ")
	return in
}
