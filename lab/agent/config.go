package agent

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/reboundhq/rebound/lab/labnet"
)

// Config is written by `rebound lab up` into the lab's state folder and read
// by the agent process it starts.
type Config struct {
	Name       string       `json:"name"`
	StateDir   string       `json:"stateDir"`
	Kubeconfig string       `json:"kubeconfig"`
	LabBins    string       `json:"labBins"`
	ImagesFile string       `json:"imagesFile,omitempty"`
	Nodes      []NodeConfig `json:"nodes"`
	// Net is the lab's pod and Service ranges.
	Net labnet.Plan `json:"net"`
	Timings
}

// NodeConfig is one lab node.
type NodeConfig struct {
	Name         string `json:"name"`
	Zone         string `json:"zone"`
	Region       string `json:"region"`
	InstanceType string `json:"instanceType"`
	IP           string `json:"ip"`
	// PodCIDR is the node's spec.podCIDR, its pods' addresses.
	PodCIDR netip.Prefix `json:"podCIDR"`
}

// Timings are the heartbeat settings; see docs/lab.md for why these values.
type Timings struct {
	LeaseRenew       time.Duration `json:"leaseRenew"`
	LeaseDuration    time.Duration `json:"leaseDuration"`
	StatusUpdate     time.Duration `json:"statusUpdate"`
	InitialBackoff   time.Duration `json:"initialBackoff"`
	MaxBackoff       time.Duration `json:"maxBackoff"`
	BackoffResetTime time.Duration `json:"backoffResetTime"`
}

// DefaultTimings are the lab's node heartbeat and restart settings.
var DefaultTimings = Timings{
	LeaseRenew:       2 * time.Second,
	LeaseDuration:    10 * time.Second,
	StatusUpdate:     10 * time.Second,
	InitialBackoff:   time.Second,
	MaxBackoff:       time.Minute,
	BackoffResetTime: 2 * time.Minute,
}

// Names of the lab's storage.
const (
	StorageClassName = "rebound-lab"
	Provisioner      = "rebound.dev/lab-volume"
	// SimulatedCondition marks pods with containers whose image maps to no
	// executable: they are reported Running but nothing runs.
	SimulatedCondition = "rebound.dev/Simulated"
	// LabEnv is set in every pod process so `lab down` can find strays.
	LabEnv = "REBOUND_LAB"
	// ContainerEnv is set in a container's processes to tell them apart
	// from other containers' when it is killed: daemons leave its process
	// group, not its environment.
	ContainerEnv = "REBOUND_LAB_CONTAINER"
)

// Paths inside the state folder.
func (c *Config) SocketPath() string         { return filepath.Join(c.StateDir, "agent.sock") }
func (c *Config) VolumeDir(pv string) string { return filepath.Join(c.StateDir, "volumes", pv) }
func (c *Config) PodDir(uid string) string   { return filepath.Join(c.StateDir, "pods", uid) }
func (c *Config) LogDir() string             { return filepath.Join(c.StateDir, "logs") }
func (c *Config) powerFile() string          { return filepath.Join(c.StateDir, "power.json") }

// ContainerLog is the file holding what a container's current (or last)
// run wrote; with previous, the one of the run before its last restart.
func (c *Config) ContainerLog(namespace, pod, container string, previous bool) string {
	name := fmt.Sprintf("%s_%s_%s", namespace, pod, container)
	if previous {
		name += ".previous"
	}
	return filepath.Join(c.LogDir(), name+".log")
}

// CreatedPathsFile lists host paths the agent made as mount targets, one a
// line, for `lab down` to remove.
func (c *Config) CreatedPathsFile() string { return filepath.Join(c.StateDir, "created-paths") }

// ConfigFile is where `lab up` writes the agent's Config.
func ConfigFile(stateDir string) string { return filepath.Join(stateDir, "agent.json") }

// LoadConfig reads the agent's Config.
func LoadConfig(stateDir string) (*Config, error) {
	data, err := os.ReadFile(ConfigFile(stateDir))
	if err != nil {
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", ConfigFile(stateDir), err)
	}
	return &c, nil
}

// Save writes the Config atomically.
func (c *Config) Save() error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(ConfigFile(c.StateDir), data)
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
