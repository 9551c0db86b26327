// Package catalog embeds rebound's built-in scenarios, one folder per
// scenario holding its scenario.yaml, laid out like kwok's kustomize/stage.
// It only carries the files: package scenarios loads, validates and lists
// them (scenarios.Catalog, scenarios.DefaultGameDay). Nothing here may refer
// to a cluster other than the lab's demo apps.
package catalog
