package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/scenarios/apps"
)

// demoNamespace is where the e2e lab runs the demo etcd app.
const demoNamespace = "rebound-e2e"

type ctxKey int

const labKey ctxKey = iota

var testenv env.Environment

// suiteLab is the lab TestMain brings up, for tests that describe a
// feature before any context carries it (package gate's OnLab).
var suiteLab *lab.Lab

// labFrom returns the lab the suite runs on.
func labFrom(ctx context.Context) *lab.Lab { return ctx.Value(labKey).(*lab.Lab) }

// buildRebound builds the rebound binary the lab's node agent runs as, unless
// REBOUND_BINARY names one already built (make test does).
func buildRebound() (string, error) {
	if b := os.Getenv("REBOUND_BINARY"); b != "" {
		return b, nil
	}
	dir, err := os.MkdirTemp("", "rebound-e2e-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "rebound")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/reboundhq/rebound/cmd/rebound")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return bin, cmd.Run()
}

// newLab describes an e2e lab; tests that need a second lab use another name.
// Its image mapping adds the tests' shell image (testdata/images.yaml).
func newLab(name, binary string) *lab.Lab {
	o := lab.DefaultOptions()
	o.Name = name
	o.Binary = binary
	if abs, err := filepath.Abs(testImages); err == nil {
		o.ImagesFile = abs
	}
	return lab.New(o, os.Stderr)
}

func TestMain(m *testing.M) {
	binary, err := buildRebound()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build rebound:", err)
		os.Exit(1)
	}
	os.Setenv("REBOUND_BINARY", binary)
	// REBOUND_E2E_LAB lets two suites run side by side on one machine.
	name := os.Getenv("REBOUND_E2E_LAB")
	if name == "" {
		name = "e2e"
	}
	l := newLab(name, binary)
	suiteLab = l
	if err := lab.Preflight(l.Options); err != nil {
		fmt.Fprintln(os.Stderr, "e2e tests need a lab:", err)
		os.Exit(1)
	}
	testenv = env.NewWithConfig(envconf.New())
	testenv.Setup(func(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
		_ = l.Down(ctx) // a lab left over from an interrupted run
		if err := l.Up(ctx); err != nil {
			return ctx, err
		}
		cfg.WithKubeconfigFile(l.Kubeconfig())
		cs, err := l.KubeClient()
		if err != nil {
			return ctx, err
		}
		if err := apps.Deploy(ctx, cs, "etcd", demoNamespace); err != nil {
			return ctx, err
		}
		if err := apps.WaitStatefulSetReady(ctx, cs, demoNamespace, "etcd", 2*time.Minute); err != nil {
			return ctx, err
		}
		return context.WithValue(ctx, labKey, l), nil
	})
	testenv.Finish(func(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
		return ctx, l.Down(ctx)
	})
	code := testenv.Run(m)
	// `down` must leave nothing behind; Finish errors alone do not fail a run.
	if left := l.Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: lab down left behind: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

func kube(t *testing.T, ctx context.Context) kubernetes.Interface {
	t.Helper()
	cs, err := labFrom(ctx).KubeClient()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
