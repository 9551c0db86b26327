//go:build tools

// Package tools pins the kwokctl command that make lab-bins builds.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwokctl"
