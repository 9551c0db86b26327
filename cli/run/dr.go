package run

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/cli/kubeclient"
	"github.com/reboundhq/rebound/journal"
	rlab "github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/runner"
	"github.com/reboundhq/rebound/scenarios"
)

// DefaultDRRegion is the region of a DR lab `rebound run` brings up, when
// the lab is not up already: the one after the target lab's lab-1.
const DefaultDRRegion = "lab-2"

// drLabShape is the shape of a DR lab `rebound run` brings up: one node in
// each of three zones is enough to hold a restored copy, and is quicker to
// start than the target lab's six.
const drLabNodes, drLabZones = 3, 3

// overrideDR points every scenario's spec.dr at the lab --dr-lab names.
func overrideDR(list []*scenarios.Scenario, labName string) {
	if labName == "" {
		return
	}
	for _, s := range list {
		if s.DR != nil {
			s.DR.Lab, s.DR.Kubeconfig, s.DR.Context = labName, "", ""
		}
	}
}

// drLab describes the DR lab named name: as it runs when it is up, else the
// shape and region `rebound run` brings it up with (a region other than
// the target lab's).
func drLab(name string, target *rlab.Lab, out io.Writer) *rlab.Lab {
	o := rlab.DefaultOptions()
	o.Name = name
	if run, up := o.Running(); up {
		return rlab.New(run, out)
	}
	o.Nodes, o.Zones, o.Region = drLabNodes, drLabZones, DefaultDRRegion
	if target != nil && target.Region == DefaultDRRegion {
		o.Region = rlab.DefaultRegion
	}
	return rlab.New(o, out)
}

// connectDR connects the DR cluster of every scenario that names one, once
// per cluster, before anything is touched: a DR lab is brought up (unless
// dry run), and every cluster must answer. The backup engines are made
// later, once the run's journal is open (drEngines).
func connectDR(ctx context.Context, f *flags, list []*scenarios.Scenario, target *rlab.Lab, out io.Writer) (map[string]*runner.Cluster, error) {
	clusters := map[string]*runner.Cluster{}
	for _, s := range list {
		dr := s.DR
		if dr == nil {
			continue
		}
		key := runner.DRKey(dr)
		if clusters[key] != nil {
			continue
		}
		c := &runner.Cluster{Kubeconfig: dr.Kubeconfig, Context: dr.Context}
		kubeconfig := dr.Kubeconfig
		if dr.Lab != "" {
			l := drLab(dr.Lab, target, out)
			c.Lab, c.Name, kubeconfig = l, "lab "+l.Name, l.Kubeconfig()
			if !f.dryRun {
				if err := l.Up(ctx); err != nil {
					return nil, notRun(fmt.Errorf("scenario %s (%s): bring the DR lab %q up: %w", s.Name, s.Source, l.Name, err))
				}
			} else if !l.IsUp() {
				fmt.Fprintf(out, "would bring the DR lab %q up (region %s) for scenario %s\n", l.Name, l.Region, s.Name)
				continue
			}
		}
		kc, err := kubeclient.Load(kubeconfig, dr.Context)
		if err != nil {
			return nil, invalid(fmt.Errorf("scenario %s (%s): spec.dr: the DR cluster's kubeconfig %s: %w", s.Name, s.Source, kubeconfig, err))
		}
		if c.Name == "" {
			c.Name = kc.Context
			if c.Name == "" {
				c.Name = kc.Config.Host
			}
		}
		// The first call: a DR cluster that does not answer ends the run
		// here, before any fault, rather than after the region is lost.
		if err := kc.Ping(ctx); err != nil {
			return nil, notRun(fmt.Errorf("scenario %s (%s): spec.dr: the DR cluster %s does not answer, so no fault was injected: %w", s.Name, s.Source, dr, err))
		}
		c.RestConfig = kc.Config
		if c.Kube, c.Dynamic, err = clients(kc.Config); err != nil {
			return nil, err
		}
		clusters[key] = c
	}
	return clusters, nil
}

// drEngines gives each DR cluster a backup engine on the run's repository
// that restores into it, journaling its data movers under that cluster, and
// says when the cluster's data movers cannot reach the repository.
func drEngines(ctx context.Context, f *flags, clusters map[string]*runner.Cluster, j *journal.Journal, runID string, log io.Writer) (closeAll func(), err error) {
	var opened []*backup.Engine
	closeAll = func() {
		for _, e := range opened {
			e.Close()
		}
	}
	for _, c := range clusters {
		eng, err := f.backup.Engine(ctx, c.Kube, log, backup.WithJournal(j, runID, c.JournalCluster("")))
		if err != nil {
			closeAll()
			return nil, err
		}
		opened = append(opened, eng)
		c.Backup = eng.ForRunner()
		if u := eng.MoverRepoURL(); c.Lab == nil && isLocalPath(u) {
			c.RepositoryUnreachable = fmt.Sprintf("the repository %s is a path on this machine, which data movers in %s cannot read: use object storage both clusters reach (--backup-repo azblob://… with --backup-mover-env-secret)", u, c.Name)
		}
	}
	return closeAll, nil
}

// isLocalPath tells whether a repository URL is a path on this machine.
func isLocalPath(u string) bool {
	return !strings.Contains(u, "://") || strings.HasPrefix(u, "file://")
}
