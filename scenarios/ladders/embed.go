package ladders

import "embed"

// FS holds the built-in ladders, one per file, named after the ladder.
//
//go:embed *.yaml
var FS embed.FS
