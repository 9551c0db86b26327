package netfault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Controller applies and heals the network faults of one lab namespace.
// Several processes may use the same namespace and state folder at once
// (the CLI, the lab agent's Chaos Mesh controller): each fault is one
// atomic nftables batch, and IDs are taken by an exclusive file link.
type Controller struct {
	netns string // path of the lab's network namespace
	dir   string // state folder: one <ID>.json per applied fault
}

// New returns the controller of the network namespace at netnsPath (the
// lab's, /run/netns/rebound-<lab>) keeping its records in stateDir.
func New(netnsPath, stateDir string) *Controller {
	return &Controller{netns: netnsPath, dir: stateDir}
}

// Apply puts a fault in effect and returns its ID once the kernel has it:
// the next packet it matches is dropped or shaped. The fault is recorded
// first, so Heal finds it even if this process dies half way; on an error
// nothing of it is left.
func (c *Controller) Apply(ctx context.Context, f Fault) (ID, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := f.Validate(); err != nil {
		return "", fmt.Errorf("network fault: %w", err)
	}
	if f.Kind == Delay {
		if err := NetemAvailable(); err != nil {
			return "", err
		}
	}
	if f.ID == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		f.ID = ID(string(f.Kind) + "-" + hex.EncodeToString(b))
	}
	if err := c.record(Applied{Fault: f, Since: time.Now()}); err != nil {
		return "", err
	}
	if err := c.apply(f); err != nil {
		_ = os.Remove(c.recordPath(f.ID))
		return "", fmt.Errorf("apply %s (%s): %w", f.ID, f, err)
	}
	return f.ID, nil
}

// apply puts f in the kernel; on an error it takes out what it put in
// (only that: a link busy with another fault keeps that fault's qdisc).
func (c *Controller) apply(f Fault) error {
	switch f.Kind {
	case Partition, Loss:
		return c.withNetns(func(ns netns.NsHandle) error {
			if err := addRules(ns, f); err != nil {
				// The batch is atomic: nothing of it is in.
				return err
			}
			return nil
		})
	case Bandwidth, Delay:
		return c.withNetns(func(ns netns.NsHandle) error {
			var done []PodLink
			for _, l := range f.Links {
				added, err := shapeLink(ns, l, f)
				if added.HostVeth != "" || added.Netns != "" {
					done = append(done, added)
				}
				if err != nil {
					var errs []error
					for _, d := range done {
						errs = append(errs, unshapeLink(ns, d))
					}
					return errors.Join(append([]error{err}, errs...)...)
				}
			}
			return nil
		})
	}
	return fmt.Errorf("unknown fault kind %q", f.Kind)
}

// unapply removes whatever of f is in the kernel; missing parts are fine.
func (c *Controller) unapply(f Fault) error {
	return c.withNetns(func(ns netns.NsHandle) error {
		var errs []error
		if f.Kind == Partition || f.Kind == Loss || f.Kind == "" {
			errs = append(errs, delRules(ns, f.ID))
		}
		for _, l := range f.Links {
			errs = append(errs, unshapeLink(ns, l))
		}
		return errors.Join(errs...)
	})
}

// Heal ends a fault: once it returns, packets pass again. Healing an ID
// with no record still removes the rules named after it (a record lost
// with its process); an ID with neither is ErrUnknownFault.
func (c *Controller) Heal(ctx context.Context, id ID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a, err := c.Get(ctx, id)
	if errors.Is(err, ErrUnknownFault) {
		found, ferr := c.hasRules(id)
		if ferr != nil || !found {
			return errors.Join(err, ferr)
		}
		a = Applied{Fault: Fault{ID: id}}
	} else if err != nil {
		return err
	}
	if err := c.unapply(a.Fault); err != nil {
		return fmt.Errorf("heal %s (%s): %w", id, a.Fault, err)
	}
	if err := os.Remove(c.recordPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("heal %s: the fault is healed but its record stays: %w", id, err)
	}
	return nil
}

// HealAll heals every recorded fault, then the fault chains left without
// a record (a process killed between the kernel and its record). It
// returns the IDs it healed. Rebound's table and base chains stay, empty;
// they go with the namespace.
func (c *Controller) HealAll(ctx context.Context) ([]ID, error) {
	list, err := c.List(ctx)
	if err != nil {
		return nil, err
	}
	var ids []ID
	var errs []error
	for _, a := range list {
		if err := c.Heal(ctx, a.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, a.ID)
	}
	orphans, err := c.ruleIDs()
	if err != nil {
		return ids, errors.Join(append(errs, err)...)
	}
	for _, id := range orphans {
		if _, err := os.Stat(c.recordPath(id)); err == nil {
			continue // applied since the list above
		}
		if err := c.withNetns(func(ns netns.NsHandle) error { return delRules(ns, id) }); err != nil {
			errs = append(errs, fmt.Errorf("heal %s (no record): %w", id, err))
			continue
		}
		ids = append(ids, id)
	}
	return ids, errors.Join(errs...)
}

// List returns the applied faults, oldest first.
func (c *Controller) List(ctx context.Context) ([]Applied, error) {
	entries, err := os.ReadDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network faults: %w", err)
	}
	var out []Applied
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		a, err := c.Get(ctx, ID(name))
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Applied) int { return a.Since.Compare(b.Since) })
	return out, nil
}

// Get returns one applied fault.
func (c *Controller) Get(_ context.Context, id ID) (Applied, error) {
	var a Applied
	if !idRE.MatchString(string(id)) {
		return a, fmt.Errorf("%w: %q is not a fault ID", ErrUnknownFault, id)
	}
	data, err := os.ReadFile(c.recordPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return a, fmt.Errorf("%w: %s (`rebound lab net list` shows the applied ones)", ErrUnknownFault, id)
	}
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(data, &a); err != nil {
		return a, fmt.Errorf("network fault record %s: %w", c.recordPath(id), err)
	}
	return a, nil
}

func (c *Controller) recordPath(id ID) string { return filepath.Join(c.dir, string(id)+".json") }

// record writes a fault's record under a temporary name and links it to
// its own, which fails if the ID is taken.
func (c *Controller) record(a Applied) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("network fault records: %w", err)
	}
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.dir, ".new-*")
	if err != nil {
		return fmt.Errorf("network fault records: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), c.recordPath(a.ID)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s (heal it first, or pick another ID)", ErrExists, a.ID)
		}
		return fmt.Errorf("record network fault %s: %w", a.ID, err)
	}
	return nil
}

// withNetns runs fn with a handle on the lab's network namespace.
func (c *Controller) withNetns(fn func(ns netns.NsHandle) error) error {
	ns, err := netns.GetFromPath(c.netns)
	if err != nil {
		return fmt.Errorf("open the lab's network namespace %s: %w (is the lab up?)", c.netns, err)
	}
	defer ns.Close()
	return fn(ns)
}

func (c *Controller) hasRules(id ID) (bool, error) {
	ids, err := c.ruleIDs()
	return slices.Contains(ids, id), err
}

// ruleIDs lists the IDs of the fault chains in rebound's table.
func (c *Controller) ruleIDs() ([]ID, error) {
	var ids []ID
	err := c.withNetns(func(ns netns.NsHandle) error {
		conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
		if err != nil {
			return err
		}
		chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
		if err != nil {
			return fmt.Errorf("nftables: list chains: %w", err)
		}
		for _, ch := range chains {
			if id, ok := strings.CutPrefix(ch.Name, "f-"); ok && ch.Table.Name == TableName && ch.Hooknum == nil {
				ids = append(ids, ID(id))
			}
		}
		return nil
	})
	return ids, err
}

// addRules adds a partition or loss fault in one batch: rebound's table and
// base chains (kept if there), the fault's sets and chain, and a jump to it
// from each base chain.
func addRules(ns netns.NsHandle, f Fault) error {
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := conn.AddTable(table())
	var bases []*nftables.Chain
	for _, b := range baseChains {
		bases = append(bases, conn.AddChain(baseChain(t, b.name, b.hook)))
	}
	from := addrSet(t, fromSetName(f.ID), 1)
	if err := conn.AddSet(from, setElements(f.From)); err != nil {
		return fmt.Errorf("nftables set %s: %w", from.Name, err)
	}
	var to *nftables.Set
	if len(f.To) > 0 {
		to = addrSet(t, toSetName(f.ID), 2)
		if err := conn.AddSet(to, setElements(f.To)); err != nil {
			return fmt.Errorf("nftables set %s: %w", to.Name, err)
		}
	}
	ch := conn.AddChain(&nftables.Chain{Name: chainName(f.ID), Table: t})
	rules, err := faultRules(f, from, to)
	if err != nil {
		return err
	}
	for _, r := range rules {
		conn.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r})
	}
	for _, b := range bases {
		conn.AddRule(jumpRule(b, f.ID))
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables: %w%s", err, kernelHint(err))
	}
	return nil
}

// delRules removes a fault's jumps, chain and sets in one batch; what is
// not there is skipped.
func delRules(ns netns.NsHandle, id ID) error {
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := table()
	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("nftables: list chains: %w", err)
	}
	ops := 0
	var own *nftables.Chain
	for _, ch := range chains {
		if ch.Table.Name != TableName {
			continue
		}
		if ch.Name == chainName(id) {
			own = ch
			continue
		}
		if ch.Hooknum == nil {
			continue
		}
		rules, err := conn.GetRules(t, ch)
		if err != nil {
			return fmt.Errorf("nftables: rules of %s: %w", ch.Name, err)
		}
		for _, r := range rules {
			if string(r.UserData) == string(id) {
				if err := conn.DelRule(r); err != nil {
					return err
				}
				ops++
			}
		}
	}
	if own != nil {
		conn.FlushChain(own)
		conn.DelChain(own)
		ops++
	}
	if own != nil || ops > 0 {
		sets, err := conn.GetSets(t)
		if err != nil {
			return fmt.Errorf("nftables: list sets: %w", err)
		}
		for _, s := range sets {
			if s.Name == fromSetName(id) || s.Name == toSetName(id) {
				conn.DelSet(s)
				ops++
			}
		}
	}
	if ops == 0 {
		return nil
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// kernelHint names the fix when the kernel lacks nftables.
func kernelHint(err error) string {
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.ENOENT) && strings.Contains(err.Error(), "netlink") {
		return " (the kernel lacks nf_tables: build it with CONFIG_NF_TABLES and CONFIG_NF_TABLES_INET, or load the nf_tables module)"
	}
	if errors.Is(err, unix.EPERM) {
		return " (run as root: network faults change the lab's firewall)"
	}
	return ""
}
