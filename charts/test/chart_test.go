package charttest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the renderings in test/e2e/testdata/chart")

const (
	chartDir       = "../rebound"
	releaseName    = "rebound"
	releaseNS      = "rebound-ops"
	renderingsGlob = "../../test/e2e/testdata/chart/*.values.yaml"
)

// render renders the chart as `helm template rebound ../rebound -n
// rebound-ops -f values` would, and returns the manifests by template name
// (NOTES.txt and empty templates left out).
func render(t *testing.T, values string) (map[string]string, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(values), &vals); err != nil {
		t.Fatalf("values: %v", err)
	}
	rv, err := util.ToRenderValues(ch, vals, common.ReleaseOptions{Name: releaseName, Namespace: releaseNS, IsInstall: true}, nil)
	if err != nil {
		return nil, err
	}
	out, err := engine.Render(ch, rv)
	if err != nil {
		return nil, err
	}
	for name, text := range out {
		if strings.HasSuffix(name, "NOTES.txt") || strings.TrimSpace(text) == "" {
			delete(out, name)
		}
	}
	return out, nil
}

// manifest joins a rendering into one multi-document YAML, in template order.
func manifest(r map[string]string) string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		for _, doc := range splitDocs(r[n]) {
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", n, doc)
		}
	}
	return b.String()
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func splitDocs(text string) []string {
	var out []string
	for _, d := range docSep.Split(text, -1) {
		if d = strings.TrimSpace(d); d != "" && !allComments(d) {
			out = append(out, d)
		}
	}
	return out
}

func allComments(d string) bool {
	for _, l := range strings.Split(d, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// objectsOf decodes every document of kind into a new T.
func objectsOf[T any](t *testing.T, r map[string]string, kind string) []T {
	t.Helper()
	var out []T
	for _, doc := range splitDocs(manifest(r)) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if meta.Kind != kind {
			continue
		}
		var obj T
		if err := yaml.UnmarshalStrict([]byte(doc), &obj); err != nil {
			t.Fatalf("rendered %s: %v\n%s", kind, err, doc)
		}
		out = append(out, obj)
	}
	return out
}

func TestLint(t *testing.T) {
	for _, tc := range []struct{ name, values string }{
		{"defaults", ""},
		{"everything on", "permissions: {humanError: true, diskFaults: true, nodeFaults: true, chaosMesh: true, secretNames: [etcd-client]}\nallowedNamespaces: [rebound-demo, rebound-drill]\ndrill: {enabled: true, extraArgs: [--rto, 5m]}\nmetrics: {pushgatewayURL: http://pushgateway:9091}\nreports: {persistence: {enabled: false}, objectStorageURL: gs://reports}\nenvSecret: creds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := map[string]any{}
			if err := yaml.Unmarshal([]byte(tc.values), &vals); err != nil {
				t.Fatal(err)
			}
			l := lint.RunAll(chartDir, vals, releaseNS)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				} else {
					t.Logf("helm lint: %s", m)
				}
			}
		})
	}
}

func TestRenderDefaults(t *testing.T) {
	r, err := render(t, "")
	if err != nil {
		t.Fatalf("render with default values: %v", err)
	}
	roles := objectsOf[rbacv1.Role](t, r, "Role")
	if len(roles) != 1 || roles[0].Namespace != "rebound-demo" {
		t.Fatalf("roles = %v, want one in rebound-demo (the default allowlist)", roles)
	}
	bindings := objectsOf[rbacv1.RoleBinding](t, r, "RoleBinding")
	if len(bindings) != 1 || bindings[0].Namespace != "rebound-demo" || bindings[0].RoleRef.Name != roles[0].Name ||
		len(bindings[0].Subjects) != 1 || bindings[0].Subjects[0].Namespace != releaseNS || bindings[0].Subjects[0].Name != "rebound" {
		t.Errorf("role bindings = %+v, want the Role bound to ServiceAccount %s/rebound", bindings, releaseNS)
	}
	jobs := objectsOf[batchv1.CronJob](t, r, "CronJob")
	if len(jobs) != 1 || jobs[0].Name != "rebound-gameday" {
		t.Fatalf("cronjobs = %d, want the game day only (drill disabled by default)", len(jobs))
	}
	pod := jobs[0].Spec.JobTemplate.Spec.Template.Spec
	c := pod.Containers[0]
	if pod.ServiceAccountName != "rebound" || c.Image != "ghcr.io/reboundhq/rebound:0.1.0" {
		t.Errorf("pod: serviceAccountName %q image %q", pod.ServiceAccountName, c.Image)
	}
	want := []string{"run", "-f", "/scenarios", "--yes", "--report-dir", "/reports/$(POD_NAME)", "--format", "table,json,junit,html,markdown", "--allow-namespace=rebound-demo"}
	if !slices.Equal(c.Args, want) {
		t.Errorf("game day args = %q, want %q", c.Args, want)
	}
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("the pod may run as root: %+v", sc)
	}
}

func TestRenderOptions(t *testing.T) {
	r, err := render(t, `
allowedNamespaces: [app-a, app-b, drills]
scenarios:
  pod-kill.yaml: null # the chart's example, in rebound-demo
  two.yaml: |
    apiVersion: rebound.dev/v1alpha1
    kind: Scenario
    metadata: {name: a}
    spec: {target: {namespace: app-a}}
    ---
    apiVersion: rebound.dev/v1alpha1
    kind: Scenario
    metadata: {name: b}
    spec: {target: {namespace: app-b}}
drill: {enabled: true, scratchNamespace: drills, backup: 1a2b3c4d, formats: [json], extraArgs: [--rto, 5m]}
metrics: {pushgatewayURL: "http://pushgateway.monitoring:9091"}
gameDay: {extraArgs: [--rung, zone-redundant]}
reports: {objectStorageURL: "s3://reports?region=eu-west-1&prefix=rebound/"}
envSecret: bucket-credentials
`)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	var ns []string
	for _, ro := range objectsOf[rbacv1.Role](t, r, "Role") {
		ns = append(ns, ro.Namespace)
	}
	if !slices.Equal(ns, []string{"app-a", "app-b", "drills"}) {
		t.Errorf("roles in %v, want one per allowed namespace", ns)
	}
	var made []string
	for _, n := range objectsOf[corev1.Namespace](t, r, "Namespace") {
		made = append(made, n.Name)
	}
	if !slices.Equal(made, []string{"drills"}) {
		t.Errorf("namespaces made: %v, want the drill's scratch namespace only", made)
	}
	args := map[string][]string{}
	for _, j := range objectsOf[batchv1.CronJob](t, r, "CronJob") {
		c := j.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
		args[j.Name] = c.Args
		if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "bucket-credentials" {
			t.Errorf("%s: envFrom %+v, want the bucket credentials Secret", j.Name, c.EnvFrom)
		}
	}
	wantDrill := []string{"drill", "--backup", "1a2b3c4d", "--scratch-namespace", "drills", "--reuse-namespace", "--allow-namespace=drills", "--yes", "--report-dir", "/reports/$(POD_NAME)", "--format", "json", "--rto", "5m"}
	if got := args["rebound-drill"]; !slices.Equal(got, wantDrill) {
		t.Errorf("drill args = %q, want %q", got, wantDrill)
	}
	if g := strings.Join(args["rebound-gameday"], " "); strings.Contains(g, "drills") {
		t.Errorf("game day args %q allow the drill's scratch namespace", g)
	}
	g := strings.Join(args["rebound-gameday"], " ")
	for _, w := range []string{"--allow-namespace=app-a --allow-namespace=app-b", "--report-url=s3://reports?region=eu-west-1&prefix=rebound/", "--push-url=http://pushgateway.monitoring:9091", "--rung zone-redundant"} {
		if !strings.Contains(g, w) {
			t.Errorf("game day args %q lack %q", g, w)
		}
	}
}

func TestRenderRefusesNamespacesOutsideTheAllowlist(t *testing.T) {
	scenario := func(ns string) string {
		return fmt.Sprintf("scenarios:\n  s.yaml: |\n    kind: Scenario\n    metadata: {name: s}\n    spec: {target: {namespace: %s}}\n", ns)
	}
	for _, tc := range []struct{ name, values, want string }{
		{"scenario outside", scenario("payments"), `scenarios[s.yaml]: scenario s: spec.target.namespace: namespace "payments" is not in allowedNamespaces [rebound-demo]: add it to allowedNamespaces`},
		{"scenario in kube-system", scenario("kube-system"), "scenarios[s.yaml]: scenario s: spec.target.namespace: namespace kube-system is never allowed"},
		{"scenario without namespace", "scenarios:\n  s.yaml: 'kind: Scenario'\n", "scenarios[s.yaml]: scenario ? has no spec.target.namespace"},
		{"kube-system allowed", "allowedNamespaces: [rebound-demo, kube-system]", "allowedNamespaces[1]: namespace kube-system is never allowed"},
		{"empty allowlist", "allowedNamespaces: []", "allowedNamespaces: empty"},
		{"drill outside", "drill: {enabled: true, scratchNamespace: scratch}", `drill.scratchNamespace: namespace "scratch" is not in allowedNamespaces [rebound-demo]`},
		{"drill in kube-system", "allowedNamespaces: [rebound-demo, kube-system]\ndrill: {enabled: true, scratchNamespace: kube-system}", "namespace kube-system is never allowed"},
		{"drill without a namespace", "drill: {enabled: true, scratchNamespace: ''}", "drill.scratchNamespace: name the namespace the drill restores into"},
		{"scenario in the drill's namespace", "allowedNamespaces: [rebound-demo, rebound-drill]\ndrill: {enabled: true}\n" + scenario("rebound-drill"), "rebound-drill is the drill's scratch namespace"},
		{"only the drill's namespace allowed, with a game day", "allowedNamespaces: [rebound-drill]\nscenarios: {pod-kill.yaml: null}\ndrill: {enabled: true}", "allowedNamespaces: only the drill's scratch namespace rebound-drill"},
		{"not YAML", "scenarios:\n  s.yaml: 'kind: [Scenario'\n", "scenarios[s.yaml]: document 0 is not YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// grants flattens RBAC rules into "verb group/resource[names]" lines.
func grants(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					s := v + " " + g + "/" + res
					if len(r.ResourceNames) > 0 {
						s += fmt.Sprint(r.ResourceNames)
					}
					out = append(out, s)
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func TestRBACRules(t *testing.T) {
	base := []string{"get /pods", "list /pods", "get apps/statefulsets", "list apps/statefulsets"}
	crud := func(group string, res ...string) []string {
		var out []string
		for _, r := range res {
			for _, v := range []string{"get", "list", "create", "update", "delete"} {
				out = append(out, v+" "+group+"/"+r)
			}
		}
		return out
	}
	backupRole := slices.Concat(crud("", "serviceaccounts", "configmaps", "secrets", "services", "persistentvolumeclaims"),
		crud("apps", "statefulsets", "deployments"), crud("policy", "poddisruptionbudgets"),
		crud("rbac.authorization.k8s.io", "roles", "rolebindings"), []string{"create /pods", "delete /pods"})
	off := "backup: false, podFaults: false"
	for _, tc := range []struct {
		name, permissions string
		role, cluster     []string
	}{
		{"nothing but reading the app", off, base, nil},
		{"pod faults", "backup: false", append(slices.Clone(base), "delete /pods"), nil},
		{"backup engine", "podFaults: false", slices.Concat(base, backupRole),
			[]string{"get /namespaces[a b]", "get storage.k8s.io/storageclasses"}},
		{"human error", off + ", humanError: true",
			slices.Concat(base, []string{"delete /pods", "delete apps/statefulsets", "patch apps/statefulsets", "get /persistentvolumeclaims", "list /persistentvolumeclaims", "delete /persistentvolumeclaims"}),
			[]string{"get /namespaces[a b]", "delete /namespaces[a b]"}},
		{"disk faults", off + ", diskFaults: true",
			slices.Concat(base, []string{"delete /pods", "get /persistentvolumeclaims", "list /persistentvolumeclaims", "delete /persistentvolumeclaims"}),
			[]string{"delete /persistentvolumes"}},
		{"node faults: cluster-wide, nothing more in the namespaces", off + ", nodeFaults: true", base,
			[]string{"get /nodes", "list /nodes", "patch /nodes", "update /nodes", "list /pods", "create /pods/eviction"}},
		{"chaos mesh", off + ", chaosMesh: true",
			slices.Concat(base, func() []string {
				var out []string
				for _, k := range []string{"podchaos", "networkchaos", "iochaos", "awschaos", "azurechaos", "gcpchaos"} {
					out = append(out, "create chaos-mesh.org/"+k, "get chaos-mesh.org/"+k, "delete chaos-mesh.org/"+k)
				}
				return out
			}()), nil},
		{"secrets by name only", off + ", secretNames: [etcd-client, cloud-key-secret]",
			append(slices.Clone(base), "get /secrets[etcd-client cloud-key-secret]"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := render(t, "allowedNamespaces: [a, b]\nscenarios: {pod-kill.yaml: null}\npermissions: {"+tc.permissions+"}")
			if err != nil {
				t.Fatal(err)
			}
			roles := objectsOf[rbacv1.Role](t, r, "Role")
			if len(roles) != 2 {
				t.Fatalf("%d roles, want one per allowed namespace (2)", len(roles))
			}
			want := slices.Compact(slices.Sorted(slices.Values(tc.role)))
			for _, ro := range roles {
				if got := grants(ro.Rules); !slices.Equal(got, want) {
					t.Errorf("Role in %s grants\n  %s\nwant\n  %s", ro.Namespace, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
			}
			crs := objectsOf[rbacv1.ClusterRole](t, r, "ClusterRole")
			crbs := objectsOf[rbacv1.ClusterRoleBinding](t, r, "ClusterRoleBinding")
			if tc.cluster == nil {
				if len(crs)+len(crbs) != 0 {
					t.Errorf("a ClusterRole or binding where nothing cluster-scoped is needed: %+v", crs)
				}
				return
			}
			if len(crs) != 1 || len(crbs) != 1 || crbs[0].RoleRef.Name != crs[0].Name {
				t.Fatalf("cluster roles %d, bindings %d: want one, bound", len(crs), len(crbs))
			}
			want = slices.Sorted(slices.Values(tc.cluster))
			if got := grants(crs[0].Rules); !slices.Equal(got, want) {
				t.Errorf("ClusterRole grants\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// The drill's scratch namespace gets one Role: the restore's verbs, no
// update, nothing of the permissions groups, whatever they are; the
// cluster-scoped reads it needs come even with the backup group off.
func TestDrillRBACRules(t *testing.T) {
	drill := []string{
		"get apps/statefulsets", "list apps/statefulsets", "create apps/statefulsets", "delete apps/statefulsets",
		"get apps/deployments", "list apps/deployments", "create apps/deployments", "delete apps/deployments",
		"get /persistentvolumeclaims", "list /persistentvolumeclaims", "create /persistentvolumeclaims", "delete /persistentvolumeclaims",
		"get /pods", "list /pods", "create /pods", "delete /pods",
	}
	for _, res := range []string{"/serviceaccounts", "/configmaps", "/secrets", "/services", "policy/poddisruptionbudgets", "rbac.authorization.k8s.io/roles", "rbac.authorization.k8s.io/rolebindings"} {
		drill = append(drill, "get "+res, "create "+res, "delete "+res)
	}
	want := slices.Sorted(slices.Values(drill))
	for _, tc := range []struct {
		name, permissions string
		cluster           []string
	}{
		{"backup group off", "backup: false, podFaults: false", []string{"get /namespaces[app drills]", "get storage.k8s.io/storageclasses"}},
		{"everything on", "humanError: true, diskFaults: true, nodeFaults: true, chaosMesh: true, secretNames: [s]", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := render(t, "allowedNamespaces: [app, drills]\nscenarios: {pod-kill.yaml: null}\ndrill: {enabled: true, scratchNamespace: drills}\npermissions: {"+tc.permissions+"}")
			if err != nil {
				t.Fatal(err)
			}
			var in []rbacv1.Role
			for _, ro := range objectsOf[rbacv1.Role](t, r, "Role") {
				if ro.Namespace == "drills" {
					in = append(in, ro)
				}
			}
			if len(in) != 1 || in[0].Name != "rebound-drill" {
				t.Fatalf("roles in the scratch namespace: %+v, want the drill's only", in)
			}
			if got := grants(in[0].Rules); !slices.Equal(got, want) {
				t.Errorf("the drill's Role grants\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			bound := false
			for _, b := range objectsOf[rbacv1.RoleBinding](t, r, "RoleBinding") {
				if b.Namespace == "drills" {
					bound = b.RoleRef.Name == "rebound-drill" && len(b.Subjects) == 1 && b.Subjects[0].Name == "rebound" && b.Subjects[0].Namespace == releaseNS
				}
			}
			if !bound {
				t.Errorf("the drill's Role is not bound to ServiceAccount %s/rebound", releaseNS)
			}
			for _, cr := range objectsOf[rbacv1.ClusterRole](t, r, "ClusterRole") {
				got := grants(cr.Rules)
				for _, g := range got {
					if strings.HasSuffix(g, "/namespaces") || (strings.Contains(g, "/namespaces[") && !strings.HasPrefix(g, "get ") && g != "delete /namespaces[app]") {
						t.Errorf("ClusterRole grants %q: the drill needs no namespace create or delete, and no verb on every namespace", g)
					}
				}
				if tc.cluster != nil && !slices.Equal(got, tc.cluster) {
					t.Errorf("ClusterRole grants\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.cluster, "\n  "))
				}
			}
		})
	}
}

// TestE2ERenderings keeps the renderings the end-to-end tests apply to the
// lab (test/e2e/incluster_test.go) equal to what the chart renders.
func TestE2ERenderings(t *testing.T) {
	files, err := filepath.Glob(renderingsGlob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no values files %s (%v)", renderingsGlob, err)
	}
	for _, vf := range files {
		t.Run(filepath.Base(vf), func(t *testing.T) {
			values, err := os.ReadFile(vf)
			if err != nil {
				t.Fatal(err)
			}
			r, err := render(t, string(values))
			if err != nil {
				t.Fatalf("render with %s: %v", vf, err)
			}
			got := []byte("# Rendered from charts/rebound with " + filepath.Base(vf) + " by charts/test (go test -update); do not edit.\n" + manifest(r))
			out := strings.TrimSuffix(vf, ".values.yaml") + ".rendered.yaml"
			if *update {
				if err := os.WriteFile(out, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s is not what the chart renders (%v): run `cd charts/test && go test -update`", out, err)
			}
		})
	}
}
