package netfault

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// qdiscMajor is the handle major of rebound's root qdiscs ("rb"), so
// healing removes only its own.
const qdiscMajor = 0x7262

// podIface is the pod side of a pod link.
const podIface = "eth0"

// tbfParams picks a bandwidth fault's burst and queue limit in bytes when
// it names none: a burst of 40 ms of traffic (at least four full frames),
// a queue of 200 ms more.
func tbfParams(f Fault) (rate uint64, burst, limit uint32) {
	rate = f.Rate / 8
	burst, limit = f.Burst, f.Limit
	if burst == 0 {
		burst = uint32(max(rate/25, 4*1514))
	}
	if limit == 0 {
		limit = burst + uint32(min(rate/5, 1<<30))
	}
	return rate, burst, limit
}

// qdiscFor builds the root qdisc of a bandwidth or delay fault on a link.
func qdiscFor(f Fault, linkIndex int) netlink.Qdisc {
	attrs := netlink.QdiscAttrs{LinkIndex: linkIndex, Handle: netlink.MakeHandle(qdiscMajor, 0), Parent: netlink.HANDLE_ROOT}
	if f.Kind == Delay {
		return netlink.NewNetem(attrs, netlink.NetemQdiscAttrs{Latency: uint32(f.Latency.Microseconds())})
	}
	rate, burst, limit := tbfParams(f)
	return &netlink.Tbf{QdiscAttrs: attrs, Rate: rate, Limit: limit, Buffer: netlink.Xmittime(rate, burst)}
}

// shapeLink adds the fault's qdisc on the sides of a pod link its
// direction names: the host veth (traffic to the pod, ingress) and the
// pod's eth0 (traffic from it, egress).
// It returns the sides it added, to take out again on an error.
func shapeLink(labNS netns.NsHandle, l PodLink, f Fault) (added PodLink, err error) {
	added.Name = l.Name
	if l.HostVeth != "" && f.Direction.ingress() {
		if err := addQdisc(labNS, l.HostVeth, f); err != nil {
			return added, fmt.Errorf("pod %s, host side %s: %w", l.Name, l.HostVeth, err)
		}
		added.HostVeth = l.HostVeth
	}
	if l.Netns != "" && f.Direction.egress() {
		err := withPodNetns(l.Netns, func(ns netns.NsHandle) error { return addQdisc(ns, podIface, f) })
		if err != nil {
			return added, fmt.Errorf("pod %s, %s in %s: %w", l.Name, podIface, l.Netns, err)
		}
		added.Netns = l.Netns
	}
	return added, nil
}

// unshapeLink removes rebound's qdisc from both sides of a pod link; a
// pod, namespace or link that is gone has nothing left to heal.
func unshapeLink(labNS netns.NsHandle, l PodLink) error {
	var errs []error
	if l.HostVeth != "" {
		errs = append(errs, delQdisc(labNS, l.HostVeth))
	}
	if l.Netns != "" {
		err := withPodNetns(l.Netns, func(ns netns.NsHandle) error { return delQdisc(ns, podIface) })
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("pod %s: %w", l.Name, err))
		}
	}
	return errors.Join(errs...)
}

func withPodNetns(path string, fn func(netns.NsHandle) error) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	return fn(ns)
}

func ownRoot(h *netlink.Handle, link netlink.Link) (netlink.Qdisc, error) {
	qs, err := h.QdiscList(link)
	if err != nil {
		return nil, err
	}
	for _, q := range qs {
		a := q.Attrs()
		if a.Parent == netlink.HANDLE_ROOT && a.Handle == netlink.MakeHandle(qdiscMajor, 0) {
			return q, nil
		}
	}
	return nil, nil
}

func addQdisc(ns netns.NsHandle, ifname string, f Fault) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("find link %s: %w (does the pod run with a network of its own?)", ifname, err)
	}
	if q, err := ownRoot(h, link); err != nil {
		return err
	} else if q != nil {
		return fmt.Errorf("%w (a %s qdisc of rebound's is on %s: heal that fault first)", ErrBusyLink, q.Type(), ifname)
	}
	if err := h.QdiscAdd(qdiscFor(f, link.Attrs().Index)); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
			opt := "CONFIG_NET_SCH_TBF"
			if f.Kind == Delay {
				return fmt.Errorf("add netem qdisc: %w: %w", err, ErrNoNetem)
			}
			return fmt.Errorf("add tbf qdisc: %w (the kernel lacks the tbf qdisc: build it with %s)", err, opt)
		}
		return fmt.Errorf("add root qdisc: %w", err)
	}
	return nil
}

func delQdisc(ns netns.NsHandle, ifname string) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(ifname)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	q, err := ownRoot(h, link)
	if err != nil || q == nil {
		return err
	}
	if err := h.QdiscDel(q); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete qdisc on %s: %w", ifname, err)
	}
	return nil
}

var netem struct {
	once sync.Once
	err  error
}

// NetemAvailable tells whether the kernel can delay packets: it adds a
// netem qdisc to the loopback of a throwaway network namespace (the
// namespace ends with the thread that made it). It returns an error
// wrapping ErrNoNetem when the kernel has no netem, and checks once per
// process.
func NetemAvailable() error {
	netem.once.Do(func() {
		done := make(chan error, 1)
		go func() {
			// The thread never returns to Go's pool: it is in the throwaway
			// namespace, and Go ends a locked thread when its goroutine exits.
			runtime.LockOSThread()
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				done <- fmt.Errorf("check for netem: make a throwaway network namespace: %w", err)
				return
			}
			lo, err := netlink.LinkByName("lo")
			if err != nil {
				done <- fmt.Errorf("check for netem: %w", err)
				return
			}
			q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: lo.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
				netlink.NetemQdiscAttrs{Latency: 1000})
			err = netlink.QdiscAdd(q)
			switch {
			case err == nil:
				done <- nil
			case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EINVAL):
				done <- fmt.Errorf("%w (adding a netem qdisc failed: %v)", ErrNoNetem, err)
			default:
				done <- fmt.Errorf("check for netem: add a netem qdisc in a throwaway namespace: %w", err)
			}
		}()
		netem.err = <-done
	})
	return netem.err
}
