package scenarios

import (
	"bytes"
	"encoding/json"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
)

// Marshal writes a v1alpha1 object (from ScenarioToV1Alpha1 or
// LadderToV1Alpha1) as YAML, fields in the order of the Go types.
//
// It goes through the same YAML library Load reads with, so that whatever it
// writes reads back as the same object: a YAML 1.1 writer, such as the one
// behind sigs.k8s.io/yaml, leaves strings like 0o17 unquoted, which YAML 1.2
// reads back as a number.
func Marshal(obj any) ([]byte, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("marshal %T: %w", obj, err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("marshal %T: %w", obj, err)
	}
	plain(&n)
	apiVersionFirst(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, fmt.Errorf("marshal %T: %w", obj, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal %T: %w", obj, err)
	}
	return buf.Bytes(), nil
}

// plain drops the JSON styles (quoted strings, flow mappings) so the encoder
// writes block YAML and quotes only what needs quoting.
func plain(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		plain(c)
	}
}

// apiVersionFirst puts apiVersion before kind, as Kubernetes manifests have
// it; metav1.TypeMeta declares them the other way round.
func apiVersionFirst(doc *yaml.Node) {
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return
	}
	m := doc.Content[0]
	c := m.Content
	if len(c) >= 4 && c[0].Value == "kind" && c[2].Value == "apiVersion" {
		c[0], c[1], c[2], c[3] = c[2], c[3], c[0], c[1]
	}
}
