// Package e2e holds rebound's end-to-end tests against a real lab: TestMain
// brings a lab up (built binaries, root and Linux required), deploys the
// demo etcd app, and takes everything down afterwards, failing the run if
// anything of the lab is left on the machine.
package e2e
