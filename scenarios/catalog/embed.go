package catalog

import "embed"

// FS holds <name>/scenario.yaml for every scenario of the catalog.
//
//go:embed */scenario.yaml
var FS embed.FS
