package scenarios

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/reboundhq/rebound/scenarios/v1alpha1"
)

// Limits that keep the probes from becoming the load that breaks the app.
const (
	MinProbeInterval = 50 * time.Millisecond
	MaxWriters       = 64
	MaxWriteRate     = 1000
)

// MinReadBackInterval keeps the write probe's periodic read of every
// acknowledged write from loading the app it measures.
const MinReadBackInterval = time.Second

// protectedNamespaces belong to Kubernetes itself.
var protectedNamespaces = []string{metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// Validation works on the v1alpha1 form, after defaulting, so that every
// field path is the one written in the YAML and can be mapped to its line.

// Validate returns every problem of s. A Scenario from Load or Parse is
// already valid; this is for one built or changed in code (say, by command
// line flags).
func (s *Scenario) Validate() field.ErrorList { return ValidateScenario(ScenarioToV1Alpha1(s)) }

// Validate returns every problem of l.
func (l *Ladder) Validate() field.ErrorList { return ValidateLadder(LadderToV1Alpha1(l)) }

// ValidateScenario returns every problem of a defaulted v1alpha1 Scenario.
func ValidateScenario(s *v1alpha1.Scenario) field.ErrorList {
	errs := validateMeta(&s.ObjectMeta, field.NewPath("metadata"), "Scenario", "spec.target.namespace is the app's")
	spec := &s.Spec
	p := field.NewPath("spec")

	disruptionOK := true
	if spec.Disruption == "" {
		errs = append(errs, field.Required(p.Child("disruption"), "one of "+quoteList(Disruptions)))
		disruptionOK = false
	} else if !slices.Contains(Disruptions, Disruption(spec.Disruption)) {
		errs = append(errs, notSupported(p.Child("disruption"), string(spec.Disruption), Disruptions))
		disruptionOK = false
	}

	errs = append(errs, validateTarget(&spec.Target, p.Child("target"))...)
	errs = append(errs, validateFault(spec, disruptionOK, p.Child("fault"))...)
	errs = append(errs, validateProbes(spec, p.Child("probes"))...)
	errs = append(errs, validateRecovery(spec, p)...)
	errs = append(errs, validateDR(spec, p)...)
	errs = append(errs, validatePhaseTimeouts(spec, p.Child("phaseTimeouts"))...)
	return errs
}

func validateMeta(m *metav1.ObjectMeta, p *field.Path, kind, why string) field.ErrorList {
	var errs field.ErrorList
	if m.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		for _, msg := range validation.IsDNS1123Label(m.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), m.Name, msg))
		}
	}
	if m.Namespace != "" {
		errs = append(errs, field.Forbidden(p.Child("namespace"), fmt.Sprintf("a %s is not namespaced; %s", kind, why)))
	}
	errs = append(errs, metav1validation.ValidateLabels(m.Labels, p.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(m.Annotations, p.Child("annotations"))...)
	return errs
}

func validateTarget(t *v1alpha1.Target, p *field.Path) field.ErrorList {
	var errs field.ErrorList

	switch {
	case t.Namespace == "":
		errs = append(errs, field.Required(p.Child("namespace"), "the namespace the app runs in"))
	case slices.Contains(protectedNamespaces, t.Namespace):
		errs = append(errs, field.Forbidden(p.Child("namespace"), fmt.Sprintf(
			"rebound never injects faults into %s: it holds Kubernetes' own components, and an outage there is an outage of the whole cluster, not a test of your app", t.Namespace)))
	default:
		for _, msg := range validation.IsDNS1123Label(t.Namespace) {
			errs = append(errs, field.Invalid(p.Child("namespace"), t.Namespace, msg))
		}
	}

	sel := p.Child("labelSelector")
	if len(t.LabelSelector.MatchLabels) == 0 && len(t.LabelSelector.MatchExpressions) == 0 {
		errs = append(errs, field.Required(sel, "matchLabels or matchExpressions: an empty selector selects every pod of the namespace"))
	}
	errs = append(errs, metav1validation.ValidateLabelSelector(&t.LabelSelector, metav1validation.LabelSelectorValidationOptions{}, sel)...)

	drivers := []v1alpha1.Driver{v1alpha1.DriverEtcd, v1alpha1.DriverElasticsearch}
	if t.Driver == "" {
		errs = append(errs, field.Required(p.Child("driver"), "one of "+quoteList(drivers)))
	} else if !slices.Contains(drivers, t.Driver) {
		errs = append(errs, notSupported(p.Child("driver"), string(t.Driver), drivers))
	}

	ep := p.Child("endpoints")
	modes := []v1alpha1.EndpointMode{v1alpha1.EndpointModeAuto, v1alpha1.EndpointModePodIP, v1alpha1.EndpointModePortForward, v1alpha1.EndpointModeURLs}
	if sc := t.Endpoints.Scheme; sc != "" && sc != "http" && sc != "https" {
		errs = append(errs, notSupported(ep.Child("scheme"), sc, []string{"http", "https"}))
	}
	if ref := t.Endpoints.SecretRef; ref != nil && ref.Name == "" {
		errs = append(errs, field.Required(ep.Child("secretRef", "name"), "the Secret with the app's credentials: keys username, password, ca.crt, tls.crt and tls.key, each optional"))
	}
	errs = append(errs, validateTLS(&t.Endpoints, ep)...)
	if !slices.Contains(modes, t.Endpoints.Mode) {
		errs = append(errs, notSupported(ep.Child("mode"), string(t.Endpoints.Mode), modes))
	}
	switch {
	case t.Endpoints.Mode == v1alpha1.EndpointModeURLs && len(t.Endpoints.URLs) == 0:
		errs = append(errs, field.Required(ep.Child("urls"), "mode urls dials the listed URLs; list at least one"))
	case t.Endpoints.Mode != v1alpha1.EndpointModeURLs && len(t.Endpoints.URLs) > 0:
		errs = append(errs, field.Forbidden(ep.Child("urls"), fmt.Sprintf("only used with mode urls; the mode is %s", t.Endpoints.Mode)))
	}
	for i, raw := range t.Endpoints.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(ep.Child("urls").Index(i), raw, "not a URL"))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, field.Invalid(ep.Child("urls").Index(i), raw, "must start with http:// or https://"))
		case u.Host == "":
			errs = append(errs, field.Invalid(ep.Child("urls").Index(i), raw, "must name a host, like https://etcd.example.com:2379"))
		}
	}
	return errs
}

// validateTLS checks endpoints.tls: only with https, a server name a
// certificate can be issued to, a CA Secret with a name.
func validateTLS(e *v1alpha1.Endpoints, ep *field.Path) field.ErrorList {
	if e.TLS == nil {
		return nil
	}
	var errs field.ErrorList
	p := ep.Child("tls")
	if e.Mode == v1alpha1.EndpointModeURLs {
		if !slices.ContainsFunc(e.URLs, func(u string) bool { return strings.HasPrefix(u, "https://") }) {
			errs = append(errs, field.Forbidden(p, "only used for https, and every url is http: give https:// urls, or remove tls"))
		}
	} else if e.Scheme != "https" {
		errs = append(errs, field.Forbidden(p, "only used for https: set endpoints.scheme: https, or remove tls"))
	}
	if sn := e.TLS.ServerName; sn != "" && net.ParseIP(sn) == nil {
		for _, msg := range validation.IsDNS1123Subdomain(sn) {
			errs = append(errs, field.Invalid(p.Child("serverName"), sn, msg+"; give the DNS name the server's certificate is for, e.g. etcd-client.demo.svc"))
		}
	}
	if ref := e.TLS.CASecretRef; ref != nil && ref.Name == "" {
		errs = append(errs, field.Required(p.Child("caSecretRef", "name"), "the Secret whose ca.crt holds the CA to trust, e.g. ECK's <name>-es-http-certs-public"))
	}
	return errs
}

func validateFault(spec *v1alpha1.ScenarioSpec, disruptionOK bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	f := &spec.Fault

	if f.Kind == "" {
		return append(errs, field.Required(p.Child("kind"), "one of "+quoteList(FaultKinds)))
	}
	kind := FaultKind(f.Kind)
	rule, ok := Rule(kind)
	if !ok {
		// Everything else about a fault depends on its kind: checking it
		// against a guess would bury the one real problem.
		return append(errs, notSupported(p.Child("kind"), string(f.Kind), FaultKinds))
	}

	if disruptionOK && !slices.Contains(rule.Disruptions, Disruption(spec.Disruption)) {
		errs = append(errs, field.Invalid(p.Child("kind"), string(f.Kind), fmt.Sprintf(
			"a %s fault is a %s disruption, not a %s one: set spec.disruption to %s, or choose a %s fault",
			f.Kind, orList(rule.Disruptions), spec.Disruption, orList(rule.Disruptions), spec.Disruption)))
	}

	// Via.
	switch {
	case kind == FaultManual && f.Via != "":
		errs = append(errs, field.Forbidden(p.Child("via"), "a manual fault is injected by a person; remove via"))
	case kind != FaultManual && !slices.Contains(rule.Via, Via(f.Via)):
		e := notSupported(p.Child("via"), string(f.Via), rule.Via)
		if slices.Contains([]Via{ViaLab, ViaChaosMesh, ViaNative}, Via(f.Via)) {
			e.Detail = fmt.Sprintf("%s cannot inject a %s fault; %s", f.Via, f.Kind, e.Detail)
		}
		errs = append(errs, e)
	}

	errs = append(errs, validateSelection(f, rule, p)...)
	errs = append(errs, validateFaultDuration(f, rule, p)...)
	switch sa := f.StartAfter.Duration; {
	case sa < 0:
		errs = append(errs, field.Invalid(p.Child("startAfter"), sa.String(), "must be 0 (act at once) or how long after it is ordered the fault acts, e.g. 12s"))
	case sa > 0 && f.Kind == v1alpha1.FaultManual:
		errs = append(errs, field.Forbidden(p.Child("startAfter"), "a manual fault acts when the person does it, and T0 is when they mark it; remove startAfter"))
	}

	// Kind-specific settings: each is required by its kind and refused by
	// the others, so that a setting never looks applied when it is not.
	if f.Kind == v1alpha1.FaultNodeTaint {
		errs = append(errs, validateTaint(f.Taint, p.Child("taint"))...)
	} else if f.Taint != nil {
		errs = append(errs, onlyFor(p.Child("taint"), FaultNodeTaint))
	}

	if f.Kind == v1alpha1.FaultAppDelete {
		errs = append(errs, validateAppDelete(f.AppDelete, spec.Target.Driver, p.Child("appDelete"))...)
	} else if f.AppDelete != nil {
		errs = append(errs, onlyFor(p.Child("appDelete"), FaultAppDelete))
	}

	if f.Kind == v1alpha1.FaultIOChaos {
		errs = append(errs, validateIOChaos(f.IOChaos, p.Child("ioChaos"))...)
	} else if f.IOChaos != nil {
		errs = append(errs, onlyFor(p.Child("ioChaos"), FaultIOChaos))
	}

	if f.Kind == v1alpha1.FaultPodKill {
		errs = append(errs, validatePodChaos(f, p)...)
	} else if f.PodChaos != nil {
		errs = append(errs, onlyFor(p.Child("podChaos"), FaultPodKill))
	}

	if f.Kind == v1alpha1.FaultManual {
		if strings.TrimSpace(f.Instructions) == "" {
			errs = append(errs, field.Required(p.Child("instructions"), "tell the person what to do, e.g. \"power off the rack of node-3\""))
		}
	} else if f.Instructions != "" {
		errs = append(errs, onlyFor(p.Child("instructions"), FaultManual))
	}
	return errs
}

func onlyFor(p *field.Path, kind FaultKind) *field.Error {
	return field.Forbidden(p, fmt.Sprintf("only used by kind %s", kind))
}

func validateSelection(f *v1alpha1.Fault, rule FaultRule, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	set := map[string]bool{
		"node":         f.Node != "",
		"nodeSelector": len(f.NodeSelector) > 0,
		"zone":         f.Zone != "",
		"pod":          f.Pod != "",
		"pvc":          f.PVC != "",
		"leader":       f.Leader,
	}
	allowed := selectors[rule.Scope]
	var chosen []string
	for _, name := range []string{"node", "nodeSelector", "zone", "pod", "pvc", "leader"} {
		if !set[name] {
			continue
		}
		if !slices.Contains(allowed, name) {
			errs = append(errs, field.Forbidden(p.Child(name), forbiddenSelection(f.Kind, rule.Scope)))
			continue
		}
		chosen = append(chosen, name)
	}
	switch {
	case len(allowed) > 0 && len(chosen) == 0 && f.Kind != v1alpha1.FaultPause:
		// A pause with no pod chosen pauses every member: the app is down
		// for exactly its duration, a known outage to check RTO against.
		errs = append(errs, field.Required(p, fmt.Sprintf("a %s fault needs one of %s", f.Kind, selectorList(allowed))))
	case len(chosen) > 1:
		errs = append(errs, field.Forbidden(p.Child(chosen[1]), fmt.Sprintf("%s is set too; set only one of %s", chosen[0], selectorList(allowed))))
	}

	if f.Node != "" {
		for _, msg := range validation.IsDNS1123Subdomain(f.Node) {
			errs = append(errs, field.Invalid(p.Child("node"), f.Node, msg))
		}
	}
	errs = append(errs, metav1validation.ValidateLabels(f.NodeSelector, p.Child("nodeSelector"))...)
	if f.Zone != "" {
		for _, msg := range validation.IsValidLabelValue(f.Zone) {
			errs = append(errs, field.Invalid(p.Child("zone"), f.Zone, msg))
		}
	}
	for _, sel := range []struct{ name, value string }{{"pod", f.Pod}, {"pvc", f.PVC}} {
		if sel.value == "" {
			continue
		}
		for _, msg := range validation.IsDNS1123Subdomain(sel.value) {
			errs = append(errs, field.Invalid(p.Child(sel.name), sel.value, msg))
		}
	}
	return errs
}

func forbiddenSelection(kind v1alpha1.FaultKind, scope Scope) string {
	switch scope {
	case ScopeApp:
		return fmt.Sprintf("a %s fault acts on the whole target and selects nothing", kind)
	case ScopeNone:
		return "a manual fault is done by a person and selects nothing"
	}
	return fmt.Sprintf("a %s fault acts on a %s, selected by %s", kind, scope, selectorList(selectors[scope]))
}

func selectorList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		if n == "leader" {
			n = "leader: true"
		}
		out[i] = n
	}
	return orList(out)
}

func validateFaultDuration(f *v1alpha1.Fault, rule FaultRule, p *field.Path) field.ErrorList {
	use := rule.Duration
	if f.Kind == v1alpha1.FaultPodKill && f.PodChaos != nil && f.PodChaos.Action == chaosv1alpha1.PodFailureAction {
		use = DurationRequired
	}
	d := f.Duration.Duration
	switch {
	case d < 0:
		return field.ErrorList{field.Invalid(p.Child("duration"), f.Duration.Duration.String(), "must be positive")}
	case d == 0 && use == DurationRequired:
		return field.ErrorList{field.Required(p.Child("duration"), fmt.Sprintf("a %s fault lasts until rebound undoes it; say after how long, e.g. 30s", f.Kind))}
	case d > 0 && use == DurationForbidden:
		what := fmt.Sprintf("a %s fault is one-shot: nothing is left to undo, the recovery repairs it", f.Kind)
		if f.Kind == v1alpha1.FaultManual {
			what = "a manual fault lasts until the person undoes it"
		}
		return field.ErrorList{field.Forbidden(p.Child("duration"), what+"; remove duration")}
	}
	return nil
}

func validateTaint(t *corev1.Taint, p *field.Path) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	errs = append(errs, metav1validation.ValidateLabelName(t.Key, p.Child("key"))...)
	for _, msg := range validation.IsValidLabelValue(t.Value) {
		errs = append(errs, field.Invalid(p.Child("value"), t.Value, msg))
	}
	effects := []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}
	if !slices.Contains(effects, t.Effect) {
		errs = append(errs, notSupported(p.Child("effect"), string(t.Effect), effects))
	}
	if t.TimeAdded != nil {
		errs = append(errs, field.Forbidden(p.Child("timeAdded"), "set by rebound when it adds the taint"))
	}
	return errs
}

func validateAppDelete(d *v1alpha1.AppDelete, driver v1alpha1.Driver, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch driver {
	case v1alpha1.DriverEtcd:
		if d == nil || d.Prefix == "" {
			return append(errs, field.Required(p.Child("prefix"), "the etcd key prefix to delete, like etcdctl del --prefix"))
		}
		if d.Index != "" {
			errs = append(errs, field.Forbidden(p.Child("index"), "an Elasticsearch index; the target's driver is etcd, use prefix"))
		}
	case v1alpha1.DriverElasticsearch:
		if d == nil || d.Index == "" {
			return append(errs, field.Required(p.Child("index"), "the Elasticsearch index to delete"))
		}
		if d.Prefix != "" {
			errs = append(errs, field.Forbidden(p.Child("prefix"), "an etcd key prefix; the target's driver is elasticsearch, use index"))
		}
		if d.Index == "_all" || strings.ContainsAny(d.Index, "*,") {
			errs = append(errs, field.Invalid(p.Child("index"), d.Index,
				"must name one index: wildcards, lists and _all are refused by Elasticsearch's action.destructive_requires_name"))
		}
	default:
		if d == nil {
			return append(errs, field.Required(p, "prefix (driver etcd) or index (driver elasticsearch)"))
		}
	}
	return errs
}

var (
	ioChaosActions = []chaosv1alpha1.IOChaosType{chaosv1alpha1.IoLatency, chaosv1alpha1.IoFaults, chaosv1alpha1.IoAttrOverride, chaosv1alpha1.IoMistake}
	ioMethods      = []chaosv1alpha1.IoMethod{
		chaosv1alpha1.LookUp, chaosv1alpha1.Forget, chaosv1alpha1.GetAttr, chaosv1alpha1.SetAttr, chaosv1alpha1.ReadLink,
		chaosv1alpha1.Mknod, chaosv1alpha1.Mkdir, chaosv1alpha1.UnLink, chaosv1alpha1.Rmdir, chaosv1alpha1.MSymlink,
		chaosv1alpha1.Rename, chaosv1alpha1.Link, chaosv1alpha1.Open, chaosv1alpha1.Read, chaosv1alpha1.Write,
		chaosv1alpha1.Flush, chaosv1alpha1.Release, chaosv1alpha1.Fsync, chaosv1alpha1.Opendir, chaosv1alpha1.Readdir,
		chaosv1alpha1.Releasedir, chaosv1alpha1.Fsyncdir, chaosv1alpha1.Statfs, chaosv1alpha1.SetXAttr, chaosv1alpha1.GetXAttr,
		chaosv1alpha1.ListXAttr, chaosv1alpha1.RemoveXAttr, chaosv1alpha1.Access, chaosv1alpha1.Create, chaosv1alpha1.GetLk,
		chaosv1alpha1.SetLk, chaosv1alpha1.Bmap,
	}
	fillings = []chaosv1alpha1.FillingType{chaosv1alpha1.Zero, chaosv1alpha1.Random}
)

func validateIOChaos(c *v1alpha1.IOChaos, p *field.Path) field.ErrorList {
	if c == nil {
		return field.ErrorList{field.Required(p, "action, and what the action needs")}
	}
	var errs field.ErrorList
	if c.Action == "" {
		errs = append(errs, field.Required(p.Child("action"), "one of "+quoteList(ioChaosActions)))
	} else if !slices.Contains(ioChaosActions, c.Action) {
		errs = append(errs, notSupported(p.Child("action"), string(c.Action), ioChaosActions))
	}

	// Each action has its one setting; the others would be ignored.
	settings := []struct {
		name   string
		action chaosv1alpha1.IOChaosType
		set    bool
		hint   string
	}{
		{"delay", chaosv1alpha1.IoLatency, c.Delay.Duration != 0, "the latency to add, e.g. 100ms"},
		{"errno", chaosv1alpha1.IoFaults, c.Errno != 0, "the error number to return, e.g. 5 (EIO)"},
		{"attr", chaosv1alpha1.IoAttrOverride, c.Attr != nil, "the attributes to override"},
		{"mistake", chaosv1alpha1.IoMistake, c.Mistake != nil, "how to garble the data"},
	}
	for _, s := range settings {
		switch {
		case c.Action == s.action && !s.set:
			errs = append(errs, field.Required(p.Child(s.name), fmt.Sprintf("action %s needs %s", s.action, s.hint)))
		case c.Action != s.action && s.set:
			errs = append(errs, field.Forbidden(p.Child(s.name), fmt.Sprintf("only used by action %s", s.action)))
		}
	}
	if c.Delay.Duration < 0 {
		errs = append(errs, field.Invalid(p.Child("delay"), c.Delay.Duration.String(), "must be positive"))
	}
	if m := c.Mistake; m != nil {
		mp := p.Child("mistake")
		if m.Filling != "" && !slices.Contains(fillings, m.Filling) {
			errs = append(errs, notSupported(mp.Child("filling"), string(m.Filling), fillings))
		}
		if m.MaxOccurrences < 0 {
			errs = append(errs, field.Invalid(mp.Child("maxOccurrences"), m.MaxOccurrences, "must be at least 1"))
		}
		if m.MaxLength < 0 {
			errs = append(errs, field.Invalid(mp.Child("maxLength"), m.MaxLength, "must be at least 1"))
		}
	}
	for i, m := range c.Methods {
		if !slices.Contains(ioMethods, m) {
			errs = append(errs, notSupported(p.Child("methods").Index(i), string(m), ioMethods))
		}
	}
	if c.Percent < 1 || c.Percent > 100 {
		errs = append(errs, field.Invalid(p.Child("percent"), c.Percent, "must be between 1 and 100"))
	}
	if c.VolumePath != "" && !strings.HasPrefix(c.VolumePath, "/") {
		errs = append(errs, field.Invalid(p.Child("volumePath"), c.VolumePath, "must be an absolute path in the container"))
	}
	return errs
}

func validatePodChaos(f *v1alpha1.Fault, p *field.Path) field.ErrorList {
	c := f.PodChaos
	if c == nil {
		return nil // defaulting always sets it
	}
	var errs field.ErrorList
	pp := p.Child("podChaos")
	actions := []chaosv1alpha1.PodChaosAction{chaosv1alpha1.PodKillAction, chaosv1alpha1.ContainerKillAction, chaosv1alpha1.PodFailureAction}
	if !slices.Contains(actions, c.Action) {
		errs = append(errs, notSupported(pp.Child("action"), string(c.Action), actions))
	}
	switch {
	case c.Action == chaosv1alpha1.ContainerKillAction && len(c.ContainerNames) == 0:
		errs = append(errs, field.Required(pp.Child("containerNames"), "container-kill kills the containers named here"))
	case c.Action != chaosv1alpha1.ContainerKillAction && len(c.ContainerNames) > 0:
		errs = append(errs, field.Forbidden(pp.Child("containerNames"), "only used by action container-kill"))
	}
	for i, n := range c.ContainerNames {
		for _, msg := range validation.IsDNS1123Label(n) {
			errs = append(errs, field.Invalid(pp.Child("containerNames").Index(i), n, msg))
		}
	}
	switch {
	case c.GracePeriod < 0:
		errs = append(errs, field.Invalid(pp.Child("gracePeriod"), c.GracePeriod, "must be 0 (kill at once) or more seconds"))
	case c.GracePeriod > 0 && c.Action != chaosv1alpha1.PodKillAction:
		errs = append(errs, field.Forbidden(pp.Child("gracePeriod"), "only used by action pod-kill"))
	}
	if c.Action == chaosv1alpha1.PodFailureAction && f.Via != v1alpha1.ViaChaosMesh {
		errs = append(errs, field.Invalid(p.Child("via"), string(f.Via), "action pod-failure is injected by Chaos Mesh only; set via: chaos-mesh"))
	}
	return errs
}

func validateProbes(spec *v1alpha1.ScenarioSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	a := &spec.Probes.Availability
	ap := p.Child("availability")
	if a.Interval.Duration < MinProbeInterval {
		errs = append(errs, field.Invalid(ap.Child("interval"), a.Interval.Duration.String(),
			fmt.Sprintf("must be at least %s: probing faster loads the app more than it sharpens the measure", MinProbeInterval)))
	}
	errs = append(errs, positive(ap.Child("timeout"), a.Timeout)...)
	if len(positive(ap.Child("stabilityWindow"), a.StabilityWindow)) > 0 {
		errs = append(errs, positive(ap.Child("stabilityWindow"), a.StabilityWindow)...)
	} else if a.StabilityWindow.Duration < a.Interval.Duration {
		errs = append(errs, field.Invalid(ap.Child("stabilityWindow"), a.StabilityWindow.Duration.String(),
			fmt.Sprintf("must be at least one probe interval (%s)", a.Interval.Duration)))
	}

	w := &spec.Probes.Writes
	wp := p.Child("writes")
	if w.Writers < 1 || w.Writers > MaxWriters {
		errs = append(errs, field.Invalid(wp.Child("writers"), w.Writers, fmt.Sprintf("must be between 1 and %d", MaxWriters)))
	}
	if w.Rate < 1 || w.Rate > MaxWriteRate {
		errs = append(errs, field.Invalid(wp.Child("rate"), w.Rate, fmt.Sprintf("writes per second per writer; must be between 1 and %d", MaxWriteRate)))
	}
	if w.ReadBackInterval.Duration < MinReadBackInterval {
		errs = append(errs, field.Invalid(wp.Child("readBackInterval"), w.ReadBackInterval.Duration.String(),
			fmt.Sprintf("must be at least %s: each read-back reads every acknowledged write, and more often would load the app it measures", MinReadBackInterval)))
	}
	return errs
}

func validateRecovery(spec *v1alpha1.ScenarioSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	r := &spec.Recovery
	rp := p.Child("recovery")
	paths := []v1alpha1.RecoveryPath{v1alpha1.RecoverySelfHeal, v1alpha1.RecoveryRestore, v1alpha1.RecoveryFailover, v1alpha1.RecoveryManual}
	if !slices.Contains(paths, r.Path) {
		errs = append(errs, notSupported(rp.Child("path"), string(r.Path), paths))
	}
	timeoutErrs := positive(rp.Child("timeout"), r.Timeout)
	errs = append(errs, timeoutErrs...)

	b := spec.Backup
	if b != nil {
		if b.Schedule != "" {
			for _, msg := range validation.IsDNS1123Subdomain(b.Schedule) {
				errs = append(errs, field.Invalid(p.Child("backup", "schedule"), b.Schedule, msg))
			}
			if b.Before {
				errs = append(errs, field.Forbidden(p.Child("backup", "schedule"), "a restore uses the backup taken before the fault; set either before or schedule"))
			}
		}
		switch ev := b.Every.Duration; {
		case ev == 0:
		case b.Schedule == "":
			errs = append(errs, field.Required(p.Child("backup", "schedule"), "backup.every runs a schedule during the scenario: name its tag here (e.g. schedule-"+spec.Target.Namespace+")"))
		case ev < MinBackupEvery:
			errs = append(errs, field.Invalid(p.Child("backup", "every"), ev.String(), fmt.Sprintf("must be at least %s: each backup reads the whole app", MinBackupEvery)))
		}
	}
	if b != nil && b.Elasticsearch != nil {
		es, ep := b.Elasticsearch, p.Child("backup", "elasticsearch")
		if es.Repository == "" {
			errs = append(errs, field.Required(ep.Child("repository"), "the snapshot repository's name (GET _snapshot lists those registered; with type and settings rebound registers it)"))
		}
		switch es.Type {
		case "", "fs", "s3", "azure":
		default:
			errs = append(errs, field.NotSupported(ep.Child("type"), es.Type, []string{"fs", "s3", "azure"}))
		}
		if es.Type == "" && len(es.Settings) > 0 {
			errs = append(errs, field.Required(ep.Child("type"), "the repository type the settings are for (fs, s3 or azure)"))
		}
	}
	if b != nil && b.Before && spec.Target.Driver == v1alpha1.DriverElasticsearch && b.Elasticsearch == nil {
		errs = append(errs, field.Required(p.Child("backup", "elasticsearch"),
			"an Elasticsearch backup is a snapshot into a snapshot repository: name it in spec.backup.elasticsearch.repository, with type and settings for rebound to register it"))
	}
	if r.Path == v1alpha1.RecoveryRestore && (b == nil || (!b.Before && b.Schedule == "")) {
		errs = append(errs, field.Required(p.Child("backup"),
			"recovery path restore needs a backup to restore from: set spec.backup.before: true, or make sure a rebound backup schedule runs during the game day and name it in spec.backup.schedule"))
	}

	sw := spec.Probes.Availability.StabilityWindow.Duration
	if len(timeoutErrs) == 0 && sw > 0 && sw >= r.Timeout.Duration {
		errs = append(errs, field.Invalid(rp.Child("timeout"), r.Timeout.Duration.String(), fmt.Sprintf(
			"must be longer than spec.probes.availability.stabilityWindow (%s), or the service can never count as restored", sw)))
	}

	if n := spec.Expect.LostWrites; n != nil && *n < 0 {
		errs = append(errs, field.Invalid(p.Child("expect", "lostWrites"), *n,
			"must be 0 (no acknowledged write may be lost) or more; remove it to use the driver's data-safety promise"))
	}

	a := &spec.Abort
	ap := p.Child("abort")
	if a.MaxLostWrites != nil && *a.MaxLostWrites < 0 {
		errs = append(errs, field.Invalid(ap.Child("maxLostWrites"), *a.MaxLostWrites, "must be 0 (abort at the first lost write) or more"))
	}
	switch nb := a.NotBackAfter.Duration; {
	case nb < 0:
		errs = append(errs, field.Invalid(ap.Child("notBackAfter"), nb.String(), "must be positive"))
	case nb > 0 && len(timeoutErrs) == 0 && nb >= r.Timeout.Duration:
		errs = append(errs, field.Invalid(ap.Child("notBackAfter"), nb.String(), fmt.Sprintf(
			"would never fire: the recovery times out first, after spec.recovery.timeout (%s)", r.Timeout.Duration)))
	}
	return errs
}

// MinBackupEvery is the shortest interval of a schedule rebound runs during
// a scenario (spec.backup.every).
const MinBackupEvery = 5 * time.Second

// validateDR checks spec.dr and the recovery paths that need it.
func validateDR(spec *v1alpha1.ScenarioSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	dr, dp := spec.DR, p.Child("dr")
	path := spec.Recovery.Path
	if dr == nil {
		if path == v1alpha1.RecoveryFailover {
			errs = append(errs, field.Required(dp, "recovery path failover promotes a standby in another cluster: name it in spec.dr (lab, or kubeconfig and context, and namespace)"))
		}
		return errs
	}
	switch {
	case dr.Lab == "" && dr.Kubeconfig == "" && dr.Context == "":
		errs = append(errs, field.Required(dp, "the DR cluster: lab (a rebound lab on this machine), or kubeconfig and context"))
	case dr.Lab != "" && (dr.Kubeconfig != "" || dr.Context != ""):
		errs = append(errs, field.Forbidden(dp.Child("lab"), "give lab, or kubeconfig and context, not both"))
	case dr.Lab != "":
		if !labNameRE.MatchString(dr.Lab) {
			errs = append(errs, field.Invalid(dp.Child("lab"), dr.Lab, "a lab name: 1 to 32 lower-case letters, digits and dashes"))
		}
	}
	switch {
	case dr.Namespace == "":
		errs = append(errs, field.Required(dp.Child("namespace"), "the namespace the app is recovered into"))
	case slices.Contains(protectedNamespaces, dr.Namespace):
		errs = append(errs, field.Forbidden(dp.Child("namespace"), fmt.Sprintf("rebound never acts in %s: it holds Kubernetes' own components", dr.Namespace)))
	default:
		for _, msg := range validation.IsDNS1123Label(dr.Namespace) {
			errs = append(errs, field.Invalid(dp.Child("namespace"), dr.Namespace, msg))
		}
	}
	if path != v1alpha1.RecoveryRestore && path != v1alpha1.RecoveryFailover {
		errs = append(errs, field.Forbidden(dp, fmt.Sprintf("the DR cluster is where recovery path restore or failover brings the app back; recovery path %s would not use it: set spec.recovery.path, or remove spec.dr", path)))
	}
	if spec.Target.Endpoints.Mode == v1alpha1.EndpointModeURLs {
		errs = append(errs, field.Forbidden(p.Child("target", "endpoints", "mode"), "the probes follow the app into the DR cluster by its pods, which fixed urls cannot: use auto, pod-ip or port-forward"))
	}
	if dr.Lab == "" && dr.Kubeconfig == spec.Target.Kubeconfig && dr.Context == spec.Target.Context && (dr.Kubeconfig != "" || dr.Context != "") {
		errs = append(errs, field.Invalid(dp, fmt.Sprintf("kubeconfig %q context %q", dr.Kubeconfig, dr.Context), "the DR cluster is the target's own cluster: a region loss takes both; name another cluster"))
	}
	return errs
}

var labNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

func validatePhaseTimeouts(spec *v1alpha1.ScenarioSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	t := &spec.PhaseTimeouts
	errs = append(errs, positive(p.Child("steadyState"), t.SteadyState)...)
	errs = append(errs, positive(p.Child("inject"), t.Inject)...)
	if obs := positive(p.Child("observe"), t.Observe); len(obs) > 0 {
		errs = append(errs, obs...)
	} else if f := spec.Fault; f.StartAfter.Duration >= 0 && f.Duration.Duration >= 0 && t.Observe.Duration < f.StartAfter.Duration+f.Duration.Duration {
		errs = append(errs, field.Invalid(p.Child("observe"), t.Observe.Duration.String(), fmt.Sprintf(
			"must be at least spec.fault.startAfter + spec.fault.duration (%s + %s), or the observe phase times out before the fault is over: raise it, or remove it for the default",
			f.StartAfter.Duration, f.Duration.Duration)))
	}
	errs = append(errs, positive(p.Child("verify"), t.Verify)...)
	if rec := positive(p.Child("recover"), t.Recover); len(rec) > 0 {
		errs = append(errs, rec...)
	} else if rt := spec.Recovery.Timeout.Duration; rt > 0 && t.Recover.Duration < rt {
		errs = append(errs, field.Invalid(p.Child("recover"), t.Recover.Duration.String(), fmt.Sprintf(
			"must be at least spec.recovery.timeout (%s), or the phase ends before the recovery may", rt)))
	}
	return errs
}

// positive reports a duration that is zero or negative. Defaulting has
// replaced zero by then, so zero means an explicit 0 in a field without a
// default, and the message says so.
func positive(p *field.Path, d metav1.Duration) field.ErrorList {
	if d.Duration <= 0 {
		return field.ErrorList{field.Invalid(p, d.Duration.String(), "must be positive")}
	}
	return nil
}

// ValidateLadder returns every problem of a v1alpha1 Ladder.
func ValidateLadder(l *v1alpha1.Ladder) field.ErrorList {
	errs := validateMeta(&l.ObjectMeta, field.NewPath("metadata"), "Ladder", "remove metadata.namespace")
	rp := field.NewPath("spec", "rungs")
	if len(l.Spec.Rungs) == 0 {
		errs = append(errs, field.Required(rp, "at least one rung, from the loosest targets to the strictest"))
	}

	type prevTarget struct {
		rung string
		obj  v1alpha1.Objective
	}
	below := map[v1alpha1.Disruption]prevTarget{}
	names := map[string]bool{}
	for i, r := range l.Spec.Rungs {
		p := rp.Index(i)
		switch {
		case r.Name == "":
			errs = append(errs, field.Required(p.Child("name"), ""))
		case names[r.Name]:
			errs = append(errs, field.Duplicate(p.Child("name"), r.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(r.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), r.Name, msg))
			}
		}
		names[r.Name] = true

		seen := map[v1alpha1.Disruption]bool{}
		for j, t := range r.Targets {
			tp := p.Child("targets").Index(j)
			targetErrs := validateObjective(&t, tp)
			errs = append(errs, targetErrs...)
			if t.Disruption != "" && seen[t.Disruption] {
				errs = append(errs, field.Duplicate(tp.Child("disruption"), string(t.Disruption)))
				continue
			}
			seen[t.Disruption] = true
			if len(targetErrs) > 0 {
				continue
			}
			if prev, ok := below[t.Disruption]; ok {
				errs = append(errs, looser(prev.rung, prev.obj, t, tp)...)
			}
			below[t.Disruption] = prevTarget{r.Name, t}
		}
	}
	return errs
}

func validateObjective(t *v1alpha1.Objective, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Disruption == "" {
		errs = append(errs, field.Required(p.Child("disruption"), "one of "+quoteList(Disruptions)))
	} else if !slices.Contains(Disruptions, Disruption(t.Disruption)) {
		errs = append(errs, notSupported(p.Child("disruption"), string(t.Disruption), Disruptions))
	}
	if t.RTO == nil {
		errs = append(errs, field.Required(p.Child("rto"), "the longest acceptable time to restore service, e.g. 60s"))
	} else if t.RTO.Duration < 0 {
		errs = append(errs, field.Invalid(p.Child("rto"), t.RTO.Duration.String(), "must be 0 or more"))
	}
	switch {
	case t.RPO == nil:
		errs = append(errs, field.Required(p.Child("rpo"), "writes (lost acknowledged writes), time (span of lost writes), or both"))
	case t.RPO.Writes == nil && t.RPO.Time == nil:
		errs = append(errs, field.Required(p.Child("rpo"), "writes (lost acknowledged writes), time (span of lost writes), or both"))
	default:
		if t.RPO.Writes != nil && *t.RPO.Writes < 0 {
			errs = append(errs, field.Invalid(p.Child("rpo", "writes"), *t.RPO.Writes, "must be 0 or more"))
		}
		if t.RPO.Time != nil && t.RPO.Time.Duration < 0 {
			errs = append(errs, field.Invalid(p.Child("rpo", "time"), t.RPO.Time.Duration.String(), "must be 0 or more"))
		}
	}
	return errs
}

// looser reports the targets of t that are looser than those of the same
// disruption type on a rung below: the ladder would then say an app that
// meets a higher rung may do worse than one on a lower rung.
func looser(prevRung string, prev, t v1alpha1.Objective, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	msg := func(what, was string) string {
		return fmt.Sprintf("looser than rung %s's %s (%s): rungs go from the loosest targets to the strictest", prevRung, what, was)
	}
	if t.RTO.Duration > prev.RTO.Duration {
		errs = append(errs, field.Invalid(p.Child("rto"), t.RTO.Duration.String(), msg("rto", prev.RTO.Duration.String())))
	}
	if pw := prev.RPO.Writes; pw != nil {
		if w := t.RPO.Writes; w == nil {
			errs = append(errs, field.Required(p.Child("rpo", "writes"), msg("rpo.writes", fmt.Sprint(*pw))))
		} else if *w > *pw {
			errs = append(errs, field.Invalid(p.Child("rpo", "writes"), *w, msg("rpo.writes", fmt.Sprint(*pw))))
		}
	}
	if pt := prev.RPO.Time; pt != nil {
		if tt := t.RPO.Time; tt == nil {
			// A count bound of 0 is stricter than any time bound.
			if t.RPO.Writes == nil || *t.RPO.Writes > 0 {
				errs = append(errs, field.Required(p.Child("rpo", "time"), msg("rpo.time", pt.Duration.String())))
			}
		} else if tt.Duration > pt.Duration {
			errs = append(errs, field.Invalid(p.Child("rpo", "time"), tt.Duration.String(), msg("rpo.time", pt.Duration.String())))
		}
	}
	return errs
}

// notSupported is field.NotSupported with a "did you mean" for a likely typo.
func notSupported[T ~string](p *field.Path, value string, valid []T) *field.Error {
	e := field.NotSupported(p, value, valid)
	strs := make([]string, len(valid))
	for i, v := range valid {
		strs[i] = string(v)
	}
	e.Detail += didYouMean(value, strs)
	return e
}

func quoteList[T ~string](vs []T) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", string(v))
	}
	return strings.Join(q, ", ")
}

func orList[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
