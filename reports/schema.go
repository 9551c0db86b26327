package reports

import (
	"bytes"
	_ "embed"
)

// SchemaURL is the $id of the report's JSON Schema.
const SchemaURL = "https://rebound.dev/schemas/report.v1alpha1.json"

//go:embed schema/report.v1alpha1.json
var schemaJSON []byte

// JSONSchema returns the JSON Schema (draft 2020-12) that report.json of
// SchemaVersion validates against, for tools that check reports. The bytes
// are a copy.
func JSONSchema() []byte { return bytes.Clone(schemaJSON) }
