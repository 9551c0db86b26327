// Command rebound is the chaos and resilience testing harness for stateful
// applications on Kubernetes. All of its logic lives in package app.
package main

import "github.com/reboundhq/rebound/cmd/rebound/app"

func main() { app.Main() }
