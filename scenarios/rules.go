package scenarios

// Scope is what a fault kind acts on, and so which selection fields of a
// fault it takes.
type Scope string

// Scopes.
const (
	// ScopeNode acts on one node: node, nodeSelector or leader.
	ScopeNode Scope = "node"
	// ScopeZone acts on one zone: zone or leader.
	ScopeZone Scope = "zone"
	// ScopeVolume acts on one member's volume: pvc, pod or leader.
	ScopeVolume Scope = "volume"
	// ScopeMember acts on one member's pod: pod or leader.
	ScopeMember Scope = "member"
	// ScopeApp acts on the whole target; no selection.
	ScopeApp Scope = "app"
	// ScopeNone is a manual fault; rebound acts on nothing.
	ScopeNone Scope = "none"
)

// selectors are the selection fields each scope takes, in the order error
// messages name them.
var selectors = map[Scope][]string{
	ScopeNode:   {"node", "nodeSelector", "leader", "follower"},
	ScopeZone:   {"zone", "leader"},
	ScopeVolume: {"pvc", "pod", "leader", "follower"},
	ScopeMember: {"pod", "leader", "follower"},
}

// DurationUse says whether a fault kind takes a duration.
type DurationUse string

// Duration uses.
const (
	// DurationRequired faults last until rebound undoes them, so they need
	// to be told when.
	DurationRequired DurationUse = "required"
	// DurationOptional faults can be undone after a duration, or left for
	// the run's recovery.
	DurationOptional DurationUse = "optional"
	// DurationForbidden faults are one-shot: nothing is left to undo, the
	// recovery repairs them.
	DurationForbidden DurationUse = "forbidden"
)

// FaultRule is what rebound knows about a fault kind; validation enforces it
// and the runner may rely on it.
type FaultRule struct {
	// Scope is what the kind acts on.
	Scope Scope
	// Disruptions are the disruption types the kind can stand for.
	Disruptions []Disruption
	// Via are the mechanisms that can inject the kind; empty for manual.
	Via []Via
	// Duration says whether the kind takes a duration. pod-kill depends on
	// its action; see Validate.
	Duration DurationUse
}

var (
	allDisruptions = Disruptions
	nodeOnly       = []Disruption{DisruptionNode}
	zoneOrRegion   = []Disruption{DisruptionZone, DisruptionRegion}
	diskOnly       = []Disruption{DisruptionDisk}
	diskOrHuman    = []Disruption{DisruptionDisk, DisruptionHumanError}
	humanOnly      = []Disruption{DisruptionHumanError}
	regionOnly     = []Disruption{DisruptionRegion}
)

var faultRules = map[FaultKind]FaultRule{
	FaultNodeDrain:         {ScopeNode, nodeOnly, []Via{ViaNative}, DurationOptional},
	FaultNodeStop:          {ScopeNode, nodeOnly, []Via{ViaLab, ViaChaosMesh}, DurationOptional},
	FaultNodeFreeze:        {ScopeNode, nodeOnly, []Via{ViaLab}, DurationRequired},
	FaultNodeTaint:         {ScopeNode, nodeOnly, []Via{ViaNative}, DurationOptional},
	FaultZoneStop:          {ScopeZone, zoneOrRegion, []Via{ViaLab, ViaChaosMesh}, DurationOptional},
	FaultZoneFreeze:        {ScopeZone, zoneOrRegion, []Via{ViaLab}, DurationRequired},
	FaultZonePartition:     {ScopeZone, zoneOrRegion, []Via{ViaLab, ViaChaosMesh}, DurationRequired},
	FaultPVCDelete:         {ScopeVolume, diskOrHuman, []Via{ViaNative}, DurationForbidden},
	FaultPVDelete:          {ScopeVolume, diskOrHuman, []Via{ViaNative}, DurationForbidden},
	FaultDiskWipe:          {ScopeVolume, diskOnly, []Via{ViaLab, ViaNative}, DurationForbidden},
	FaultDiskCorrupt:       {ScopeVolume, diskOnly, []Via{ViaLab, ViaChaosMesh}, DurationForbidden},
	FaultDiskReadonly:      {ScopeVolume, diskOnly, []Via{ViaLab, ViaChaosMesh}, DurationRequired},
	FaultDiskFill:          {ScopeVolume, diskOnly, []Via{ViaLab, ViaNative}, DurationOptional},
	FaultIOChaos:           {ScopeMember, diskOnly, []Via{ViaChaosMesh}, DurationRequired},
	FaultNamespaceDelete:   {ScopeApp, humanOnly, []Via{ViaNative}, DurationForbidden},
	FaultStatefulSetDelete: {ScopeApp, humanOnly, []Via{ViaNative}, DurationForbidden},
	FaultPVCDeleteAll:      {ScopeApp, humanOnly, []Via{ViaNative}, DurationForbidden},
	FaultScaleToZero:       {ScopeApp, humanOnly, []Via{ViaNative}, DurationForbidden},
	FaultAppDelete:         {ScopeApp, humanOnly, []Via{ViaNative}, DurationForbidden},
	FaultPodKill:           {ScopeMember, nodeOnly, []Via{ViaNative, ViaChaosMesh}, DurationForbidden},
	FaultPause:             {ScopeMember, nodeOnly, []Via{ViaLab, ViaNative}, DurationRequired},
	FaultRegionLoss:        {ScopeApp, regionOnly, []Via{ViaLab, ViaChaosMesh}, DurationOptional},
	FaultManual:            {ScopeNone, allDisruptions, nil, DurationForbidden},
}

// FaultKinds lists every fault kind, in the order of v1alpha1's documentation.
var FaultKinds = []FaultKind{
	FaultNodeDrain, FaultNodeStop, FaultNodeFreeze, FaultNodeTaint,
	FaultZoneStop, FaultZoneFreeze, FaultZonePartition,
	FaultPVCDelete, FaultPVDelete, FaultDiskWipe, FaultDiskCorrupt, FaultDiskReadonly, FaultDiskFill, FaultIOChaos,
	FaultNamespaceDelete, FaultStatefulSetDelete, FaultPVCDeleteAll, FaultScaleToZero, FaultAppDelete,
	FaultPodKill, FaultPause, FaultRegionLoss, FaultManual,
}

// Rule returns what rebound knows about a fault kind; false for an unknown
// kind.
func Rule(kind FaultKind) (FaultRule, bool) {
	r, ok := faultRules[kind]
	return r, ok
}
