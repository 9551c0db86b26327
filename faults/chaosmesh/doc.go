// Package chaosmesh builds the Chaos Mesh experiments rebound injects faults
// with — a zone or pod network partition, a pod kill, I/O errors and latency
// on a volume, and stopping a cloud node on Azure, AWS or GCP — as the typed
// objects of Chaos Mesh's own api module, and creates and deletes them
// through a dynamic client. The fault injectors call it. crdgen/gen.sh (make
// chaos-crds) generates the matching CRDs, which the e2e tests install in
// the lab so its API server checks every object against the real schema;
// there the lab's own controller (lab/agent/chaos) executes the objects in
// place of Chaos Mesh.
//
// Every object is labelled with the run it belongs to, so cleanup finds it,
// and carries a duration wherever Chaos Mesh has one, so Chaos Mesh ends the
// fault by itself even if rebound dies. Builders do not check their input;
// Validate, which Create runs first, does, with Chaos Mesh's own webhook
// rules and rebound's.
//
// ReadInjection reads back what Chaos Mesh's controller reports of an
// object: whether every target is injected, and if not, why, in its words.
//
// It must not redefine Chaos Mesh's types, wait for a fault or judge its
// effect on the app (the injectors and probes do), or journal anything:
// the caller records the undo before it calls Create.
package chaosmesh
