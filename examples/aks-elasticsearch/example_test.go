package example

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/reboundhq/rebound/scenarios"
)

// What the files of this example agree on.
const (
	namespace    = "search"
	clusterName  = "search"
	clusterLabel = "elasticsearch.k8s.elastic.co/cluster-name"
	zoneLabel    = "topology.kubernetes.io/zone"
	storageClass = "es-premium-zonal"
	probeRole    = "rebound_probe"
	// ECK's default HTTPS: a certificate for the cluster's HTTP Service,
	// from a CA whose certificate is ca.crt of this Secret.
	httpServiceName = clusterName + "-es-http." + namespace + ".svc"
	httpCertsSecret = clusterName + "-es-http-certs-public"
)

// scenarioDirs are the folders of scenarios: the default game day, and the
// extras that need a person or standalone VMs.
var scenarioDirs = []string{"scenarios", "extras"}

func loadScenarios(t *testing.T, dir string) []*scenarios.Scenario {
	t.Helper()
	objs, err := scenarios.Load(dir)
	if err != nil {
		t.Fatalf("load %s:\n%v", dir, err)
	}
	if len(objs.Ladders) > 0 {
		t.Errorf("%s holds a Ladder (%s); keep the ladder in ladder.yaml so that -f %s and --ladder do not both bring one", dir, objs.Ladders[0].Source, dir)
	}
	if len(objs.Scenarios) == 0 {
		t.Fatalf("%s holds no scenario", dir)
	}
	return objs.Scenarios
}

func TestScenariosValidateAndTargetTheCluster(t *testing.T) {
	names := map[string]string{}
	for _, dir := range scenarioDirs {
		for _, s := range loadScenarios(t, dir) {
			where := fmt.Sprintf("%s (%s)", s.Name, s.Source)
			if errs := s.Validate(); len(errs) > 0 {
				t.Errorf("%s: %v", where, errs.ToAggregate())
			}
			if s.Target.Driver != scenarios.DriverElasticsearch {
				t.Errorf("%s: driver %q, want %q", where, s.Target.Driver, scenarios.DriverElasticsearch)
			}
			if s.Target.Namespace != namespace {
				t.Errorf("%s: namespace %q, want %q (the one manifests/ deploy into)", where, s.Target.Namespace, namespace)
			}
			// zone-partition passes matchLabels, not matchExpressions, on to
			// Chaos Mesh, so the selector must be matchLabels alone.
			sel := s.Target.LabelSelector
			if sel.MatchLabels[clusterLabel] != clusterName || len(sel.MatchExpressions) > 0 {
				t.Errorf("%s: labelSelector %s, want matchLabels %s: %s and nothing else", where, sel.String(), clusterLabel, clusterName)
			}
			// ECK serves HTTPS; rebound dials pod IPs or port-forwards, and
			// verifies the Service's name against ECK's CA.
			if ep := s.Target.Endpoints; ep.Scheme != "https" || ep.TLS.ServerName != httpServiceName || ep.TLS.CASecret != httpCertsSecret {
				t.Errorf("%s: endpoints scheme %q, tls.serverName %q, tls.caSecretRef %q; want https, %s and %s (ECK's default HTTPS)",
					where, ep.Scheme, ep.TLS.ServerName, ep.TLS.CASecret, httpServiceName, httpCertsSecret)
			}
			if prev, dup := names[s.Name]; dup {
				t.Errorf("%s: name also used by %s; --scenario picks by name across -f folders", where, prev)
			}
			names[s.Name] = where
		}
	}
}

func TestDefaultGameDayRunsUnattendedAndCoversEveryDisruption(t *testing.T) {
	covered := map[scenarios.Disruption]bool{}
	for _, s := range loadScenarios(t, "scenarios") {
		covered[s.Disruption] = true
		if s.Fault.Kind == scenarios.FaultManual {
			t.Errorf("%s (%s): a manual fault waits for a person; put it in extras/", s.Name, s.Source)
		}
		// A cluster this example builds is a set of AKS scale sets, whose
		// VMs AzureChaos cannot stop.
		if s.Fault.Via == scenarios.ViaChaosMesh && (s.Fault.Kind == scenarios.FaultNodeStop || s.Fault.Kind == scenarios.FaultZoneStop) {
			t.Errorf("%s (%s): %s through Chaos Mesh cannot stop AKS scale-set nodes; put it in extras/", s.Name, s.Source, s.Fault.Kind)
		}
		if s.GameDay() != "aks-elasticsearch" {
			t.Errorf("%s (%s): label rebound.dev/gameday %q, want aks-elasticsearch", s.Name, s.Source, s.GameDay())
		}
	}
	for _, d := range []scenarios.Disruption{scenarios.DisruptionNode, scenarios.DisruptionZone, scenarios.DisruptionDisk, scenarios.DisruptionHumanError} {
		if !covered[d] {
			t.Errorf("no scenario in scenarios/ stands for disruption %s", d)
		}
	}
}

func TestLadder(t *testing.T) {
	objs, err := scenarios.Load("ladder.yaml")
	if err != nil {
		t.Fatalf("load ladder.yaml:\n%v", err)
	}
	if len(objs.Ladders) != 1 || len(objs.Scenarios) != 0 {
		t.Fatalf("ladder.yaml: %d ladders and %d scenarios, want exactly one ladder (--ladder insists)", len(objs.Ladders), len(objs.Scenarios))
	}
	l := objs.Ladders[0]
	if errs := l.Validate(); len(errs) > 0 {
		t.Errorf("ladder %s: %v", l.Name, errs.ToAggregate())
	}
	// The README tells people to judge the deployed cluster against this rung.
	if !slices.ContainsFunc(l.Rungs, func(r scenarios.Rung) bool { return r.Name == "zone-redundant" }) {
		t.Errorf("ladder %s has no rung zone-redundant, which the README and manifests refer to", l.Name)
	}
	// Every rung sets targets for every disruption a scenario stands for;
	// otherwise a rung would be "not covered" rather than met or missed.
	var used []scenarios.Disruption
	for _, dir := range scenarioDirs {
		for _, s := range loadScenarios(t, dir) {
			if !slices.Contains(used, s.Disruption) {
				used = append(used, s.Disruption)
			}
		}
	}
	for _, r := range l.Rungs {
		for _, d := range used {
			if _, ok := r.Targets[d]; !ok {
				t.Errorf("ladder %s: rung %s has no target for disruption %s", l.Name, r.Name, d)
			}
		}
	}
}

// object is one Kubernetes manifest, as plain YAML.
type object struct {
	file string
	m    map[string]any
}

func (o object) kind() string { return fmt.Sprintf("%v/%v", o.m["apiVersion"], o.m["kind"]) }

func (o object) String() string {
	return fmt.Sprintf("%s %v/%v in %s", o.m["kind"], dig(o.m, "metadata", "namespace"), dig(o.m, "metadata", "name"), o.file)
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// readManifests parses every document of every *.yaml file in dir.
func readManifests(t *testing.T, dir string) []object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	var out []object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSeparator.Split(string(data), -1) {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				t.Errorf("%s, document %d: %v", f, i+1, err)
				continue
			}
			if m == nil {
				continue // only comments
			}
			o := object{file: f, m: m}
			if m["apiVersion"] == nil || m["kind"] == nil || dig(m, "metadata", "name") == nil {
				t.Errorf("%s, document %d: no apiVersion, kind or metadata.name", f, i+1)
				continue
			}
			out = append(out, o)
		}
	}
	return out
}

// dig follows keys (string) and indices (int) through decoded YAML.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := dig(v, path...).(string)
	return s
}

func list(v any, path ...any) []any {
	s, _ := dig(v, path...).([]any)
	return s
}

func TestManifestsHaveTheExpectedKinds(t *testing.T) {
	for dir, want := range map[string][]string{
		"manifests": {
			"batch/v1/Job",
			"elasticsearch.k8s.elastic.co/v1/Elasticsearch",
			"networking.k8s.io/v1/NetworkPolicy",
			"storage.k8s.io/v1/StorageClass",
			"v1/ConfigMap",
			"v1/Namespace",
			"v1/Secret",
		},
		"alternatives": {"elasticsearch.k8s.elastic.co/v1/Elasticsearch"},
	} {
		var got []string
		for _, o := range readManifests(t, dir) {
			got = append(got, o.kind())
			if ns := str(o.m, "metadata", "namespace"); ns != "" && ns != namespace {
				t.Errorf("%s: namespace %q, want %q", o, ns, namespace)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: kinds %v, want %v", dir, got, want)
		}
	}
}

// byKind returns the objects of one kind.
func byKind(objs []object, kind string) []object {
	var out []object
	for _, o := range objs {
		if o.m["kind"] == kind {
			out = append(out, o)
		}
	}
	return out
}

func TestElasticsearchIsZoneAware(t *testing.T) {
	base := readManifests(t, "manifests")
	alt := readManifests(t, "alternatives")

	classes := map[string]object{}
	for _, sc := range byKind(base, "StorageClass") {
		classes[str(sc.m, "metadata", "name")] = sc
	}
	sc, ok := classes[storageClass]
	switch {
	case !ok:
		t.Errorf("no StorageClass %s", storageClass)
	case str(sc.m, "provisioner") != "disk.csi.azure.com" || str(sc.m, "volumeBindingMode") != "WaitForFirstConsumer":
		t.Errorf("%s: want provisioner disk.csi.azure.com and volumeBindingMode WaitForFirstConsumer, so each disk is made in its pod's zone", sc)
	}

	secrets := map[string]object{}
	for _, s := range byKind(base, "Secret") {
		secrets[str(s.m, "metadata", "name")] = s
	}

	esObjs := append(byKind(base, "Elasticsearch"), byKind(alt, "Elasticsearch")...)
	if len(esObjs) != 2 {
		t.Fatalf("want one Elasticsearch in manifests/ and one in alternatives/, found %d", len(esObjs))
	}
	for _, es := range esObjs {
		t.Run(filepath.Base(es.file), func(t *testing.T) {
			if name := str(es.m, "metadata", "name"); name != clusterName {
				t.Errorf("%s: name %q, want %q (the scenarios select pods by it)", es, name, clusterName)
			}
			if !strings.Contains(str(es.m, "metadata", "annotations", "eck.k8s.elastic.co/downward-node-labels"), zoneLabel) {
				t.Errorf("%s: annotation eck.k8s.elastic.co/downward-node-labels does not list %s", es, zoneLabel)
			}
			// ECK's default HTTPS, which the scenarios verify (endpoints.tls).
			if dig(es.m, "spec", "http", "tls") != nil {
				t.Errorf("%s: spec.http.tls changes ECK's default HTTPS certificate, which the scenarios verify for %s against %s; remove it", es, httpServiceName, httpCertsSecret)
			}
			roleSecrets := list(es.m, "spec", "auth", "roles")
			if len(roleSecrets) != 1 {
				t.Fatalf("%s: want one spec.auth.roles secret, found %d", es, len(roleSecrets))
			}
			rs, ok := secrets[str(roleSecrets[0], "secretName")]
			if !ok {
				t.Fatalf("%s: spec.auth.roles names Secret %q, which manifests/ do not define", es, str(roleSecrets[0], "secretName"))
			}
			var roles map[string]any
			if err := yaml.Unmarshal([]byte(str(rs.m, "stringData", "roles.yml")), &roles); err != nil || roles[probeRole] == nil {
				t.Fatalf("%s: roles.yml does not define %s (%v)", rs, probeRole, err)
			}
			checkRoleCoversDeletedIndices(t, roles[probeRole])

			total := 0
			zones := map[string]bool{}
			nodeSets := list(es.m, "spec", "nodeSets")
			for i, ns := range nodeSets {
				where := fmt.Sprintf("%s: nodeSets[%d] (%s)", es, i, str(ns, "name"))
				count, _ := dig(ns, "count").(float64)
				total += int(count)
				cfg := dig(ns, "config")
				if got := str(cfg, "node.attr.zone"); got != "${ZONE}" {
					t.Errorf("%s: node.attr.zone %q, want ${ZONE}", where, got)
				}
				if got := str(cfg, "cluster.routing.allocation.awareness.attributes"); got != "k8s_node_name,zone" {
					t.Errorf("%s: awareness attributes %q, want k8s_node_name,zone (keep ECK's k8s_node_name)", where, got)
				}
				if got := str(cfg, "xpack.security.authc.anonymous.roles"); got != probeRole {
					t.Errorf("%s: anonymous role %q, want %s", where, got, probeRole)
				}
				var esContainer any
				for _, c := range list(ns, "podTemplate", "spec", "containers") {
					if str(c, "name") == "elasticsearch" {
						esContainer = c
					}
				}
				zoneEnv := false
				for _, e := range list(esContainer, "env") {
					if str(e, "name") == "ZONE" && str(e, "valueFrom", "fieldRef", "fieldPath") == "metadata.annotations['"+zoneLabel+"']" {
						zoneEnv = true
					}
				}
				if !zoneEnv {
					t.Errorf("%s: the elasticsearch container does not take ZONE from the pod annotation %s", where, zoneLabel)
				}
				vct := list(ns, "volumeClaimTemplates")
				if str(vct, 0, "metadata", "name") != "elasticsearch-data" || str(vct, 0, "spec", "storageClassName") != storageClass {
					t.Errorf("%s: want volume claim template elasticsearch-data of StorageClass %s (the io-chaos scenario acts on its mount)", where, storageClass)
				}

				if len(nodeSets) == 1 {
					spread := list(ns, "podTemplate", "spec", "topologySpreadConstraints")
					if str(spread, 0, "topologyKey") != zoneLabel || str(spread, 0, "whenUnsatisfiable") != "DoNotSchedule" ||
						str(spread, 0, "labelSelector", "matchLabels", clusterLabel) != clusterName {
						t.Errorf("%s: want a DoNotSchedule topology spread over %s selecting the cluster's pods", where, zoneLabel)
					}
				} else {
					// One node set per zone: the pods carry the zone label for
					// Chaos Mesh, and it matches where they are scheduled.
					label := str(ns, "podTemplate", "metadata", "labels", zoneLabel)
					if label == "" || label != str(ns, "podTemplate", "spec", "nodeSelector", zoneLabel) {
						t.Errorf("%s: pod label %s %q must equal the nodeSelector's", where, zoneLabel, label)
					}
					if zones[label] {
						t.Errorf("%s: zone %q already has a node set", where, label)
					}
					zones[label] = true
				}
			}
			if total != 3 {
				t.Errorf("%s: %d Elasticsearch nodes, want 3 (one per zone)", es, total)
			}
		})
	}
}

// checkRoleCoversDeletedIndices makes sure the anonymous role may delete
// every index an app-delete scenario names, or the fault would fail with 403.
func checkRoleCoversDeletedIndices(t *testing.T, role any) {
	t.Helper()
	for _, dir := range scenarioDirs {
		for _, s := range loadScenarios(t, dir) {
			if s.Fault.AppDelete == nil {
				continue
			}
			index := s.Fault.AppDelete.Index
			ok := false
			for _, grant := range list(role, "indices") {
				names := list(grant, "names")
				privs := list(grant, "privileges")
				if slices.Contains(names, any(index)) && (slices.Contains(privs, any("delete_index")) || slices.Contains(privs, any("all"))) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("role %s does not grant delete_index on %q, which scenario %s deletes", probeRole, index, s.Name)
			}
		}
	}
}

func TestIndexTemplateSetsOneReplica(t *testing.T) {
	var found bool
	for _, cm := range byKind(readManifests(t, "manifests"), "ConfigMap") {
		raw := str(cm.m, "data", "index-template.json")
		if raw == "" {
			continue
		}
		found = true
		var tmpl struct {
			IndexPatterns []string `json:"index_patterns"`
			Template      struct {
				Settings map[string]any `json:"settings"`
			} `json:"template"`
		}
		if err := json.Unmarshal([]byte(raw), &tmpl); err != nil {
			t.Fatalf("%s: index-template.json: %v", cm, err)
		}
		if r := fmt.Sprint(tmpl.Template.Settings["index.number_of_replicas"]); r != "1" {
			t.Errorf("%s: index.number_of_replicas %s, want 1", cm, r)
		}
		for _, p := range []string{"products*", "rebound-*"} {
			if !slices.Contains(tmpl.IndexPatterns, p) {
				t.Errorf("%s: index_patterns %v lack %s", cm, tmpl.IndexPatterns, p)
			}
		}
	}
	if !found {
		t.Error("no ConfigMap carries index-template.json")
	}
}
