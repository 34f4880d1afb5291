package group

// group.go: the classic protocol's state machine.
//
//	Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance
//	  ▲                  ▲     │                                      │ leader's SyncGroup
//	  │ last member      │     └─ nobody left ─▶ Empty                ▼
//	  └─ leaves/expires ─┴──── join, leave, expiry, new protocol ── Stable
//	Dead: deleted (DeleteGroups, expiry); a Dead group is no longer in the map.
//
// Every function here expects Coordinator.mu held.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type state int8

const (
	stateEmpty state = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (s state) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	default:
		return "Dead"
	}
}

type topicPartition struct {
	topic     string
	partition int32
}

// offset is one committed offset.
type offset struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitTime  int64 // ms
	logOffset   int64 // where in __consumer_offsets it was written; later writes win
}

type protocol struct {
	name     string
	metadata []byte
}

// joinResult is what a parked JoinGroup answers.
type joinResult struct {
	errCode    int16
	generation int32
	protoType  string
	protocol   string
	leader     string
	memberID   string
	members    []kmsg.JoinGroupResponseMember // only for the leader
	skipAssign bool
}

// syncResult is what a parked SyncGroup answers.
type syncResult struct {
	errCode    int16
	assignment []byte
}

type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []protocol
	assignment       []byte

	joinWaiters []chan joinResult // non-nil while the member has joined the current rebalance
	joined      bool
	syncWaiters []chan syncResult

	timer    *time.Timer // session expiry
	timerSeq uint64
}

func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

func sameProtocols(a, b []protocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].name != b[i].name || string(a[i].metadata) != string(b[i].metadata) {
			return false
		}
	}
	return true
}

type group struct {
	name         string
	state        state
	stateTime    time.Time // when it entered the current state
	protocolType string
	protocol     string
	generation   int32
	leader       string

	members map[string]*member
	pending map[string]*time.Timer // member ids handed out by MEMBER_ID_REQUIRED, expiring after the session timeout
	static  map[string]string      // group.instance.id → member id

	offsets map[topicPartition]offset

	rebalanceTimer  *time.Timer
	rebalanceSeq    uint64
	initialDelay    bool // the rebalance timer is the initial delay
	newMemberJoined bool // during the initial delay
	delayRemaining  time.Duration
}

func newGroup(name string, now time.Time) *group {
	return &group{
		name:      name,
		stateTime: now,
		members:   map[string]*member{},
		pending:   map[string]*time.Timer{},
		static:    map[string]string{},
		offsets:   map[topicPartition]offset{},
	}
}

func (g *group) setState(s state, now time.Time) {
	g.state = s
	g.stateTime = now
}

func (g *group) stopTimers() {
	if g.rebalanceTimer != nil {
		g.rebalanceTimer.Stop()
		g.rebalanceTimer = nil
	}
	for _, m := range g.members {
		if m.timer != nil {
			m.timer.Stop()
		}
		for _, w := range m.joinWaiters {
			w <- joinResult{errCode: kerr.CoordinatorNotAvailable.Code, memberID: m.id, generation: -1}
		}
		m.joinWaiters = nil
		for _, w := range m.syncWaiters {
			w <- syncResult{errCode: kerr.CoordinatorNotAvailable.Code}
		}
		m.syncWaiters = nil
	}
	for _, t := range g.pending {
		t.Stop()
	}
}

// supportsProtocols reports whether a member offering protoType and protos can
// join: same protocol type and at least one protocol every member offers.
func (g *group) supportsProtocols(protoType string, protos []protocol) bool {
	if len(protos) == 0 || protoType == "" {
		return false
	}
	if len(g.members) == 0 {
		return true
	}
	if protoType != g.protocolType {
		return false
	}
	for _, p := range protos {
		all := true
		for _, m := range g.members {
			if !hasProtocol(m.protocols, p.name) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func hasProtocol(ps []protocol, name string) bool {
	for _, p := range ps {
		if p.name == name {
			return true
		}
	}
	return false
}

// selectProtocol picks the protocol every member supports that gets the most
// first-preference votes (ties go to the protocol listed first by the leader).
func (g *group) selectProtocol() string {
	var candidates []string
	var any *member
	if l, ok := g.members[g.leader]; ok {
		any = l
	}
	for _, m := range g.members {
		if any == nil {
			any = m
		}
	}
	if any == nil {
		return ""
	}
	for _, p := range any.protocols {
		all := true
		for _, m := range g.members {
			if !hasProtocol(m.protocols, p.name) {
				all = false
				break
			}
		}
		if all {
			candidates = append(candidates, p.name)
		}
	}
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if contains(candidates, p.name) {
				votes[p.name]++
				break
			}
		}
	}
	best := ""
	for _, c := range candidates {
		if best == "" || votes[c] > votes[best] {
			best = c
		}
	}
	return best
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// addMember puts m into the group.
func (g *group) addMember(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	g.members[m.id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
	if g.initialDelay {
		g.newMemberJoined = true
	}
}

// removeMember drops a member and fails whatever it is waiting for.
func (c *Coordinator) removeMember(g *group, m *member, code int16) {
	if m.timer != nil {
		m.timer.Stop()
	}
	for _, w := range m.joinWaiters {
		w <- joinResult{errCode: code, memberID: m.id, generation: -1}
	}
	m.joinWaiters, m.joined = nil, false
	for _, w := range m.syncWaiters {
		w <- syncResult{errCode: code}
	}
	m.syncWaiters = nil
	delete(g.members, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		for id, o := range g.members {
			if g.leader == "" || o.joined {
				g.leader = id
				if o.joined {
					break
				}
			}
		}
	}
}

// memberGone reacts to a member having left or expired.
func (c *Coordinator) memberGone(g *group) {
	switch g.state {
	case stateStable, stateCompletingRebalance:
		c.prepareRebalance(g, "member left")
	case statePreparingRebalance:
		c.maybeCompleteJoin(g)
	}
}

// prepareRebalance moves the group to PreparingRebalance and arms the
// rebalance timer (the initial delay when the group was empty).
func (c *Coordinator) prepareRebalance(g *group, reason string) {
	if g.state == stateCompletingRebalance {
		// Assignments of the aborted generation are void; members
		// waiting in SyncGroup must rejoin.
		for _, m := range g.members {
			m.assignment = nil
			for _, w := range m.syncWaiters {
				w <- syncResult{errCode: kerr.RebalanceInProgress.Code}
			}
			m.syncWaiters = nil
		}
	}
	wasEmpty := g.state == stateEmpty
	g.setState(statePreparingRebalance, c.now())
	c.logger.Debug("preparing rebalance", "group", g.name, "reason", reason, "generation", g.generation)
	if wasEmpty && c.cfg.InitialRebalanceDelay > 0 {
		g.initialDelay = true
		g.newMemberJoined = false
		g.delayRemaining = max(g.maxRebalanceTimeout()-c.cfg.InitialRebalanceDelay, 0)
		c.armRebalanceTimer(g, c.cfg.InitialRebalanceDelay)
		return
	}
	g.initialDelay = false
	c.armRebalanceTimer(g, g.maxRebalanceTimeout())
	c.maybeCompleteJoin(g)
}

func (g *group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (c *Coordinator) armRebalanceTimer(g *group, d time.Duration) {
	if g.rebalanceTimer != nil {
		g.rebalanceTimer.Stop()
	}
	g.rebalanceSeq++
	seq := g.rebalanceSeq
	g.rebalanceTimer = time.AfterFunc(d, func() { c.rebalanceTimeout(g, seq) })
}

// rebalanceTimeout runs when the rebalance (or initial delay) timer fires.
// It takes c.mu.
func (c *Coordinator) rebalanceTimeout(g *group, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || g.rebalanceSeq != seq || c.groups[g.name] != g || g.state != statePreparingRebalance {
		return
	}
	g.rebalanceTimer = nil
	if g.initialDelay && g.newMemberJoined && g.delayRemaining > 0 {
		g.newMemberJoined = false
		d := min(c.cfg.InitialRebalanceDelay, g.delayRemaining)
		g.delayRemaining -= d
		c.armRebalanceTimer(g, d)
		return
	}
	g.initialDelay = false
	c.completeJoin(g)
}

// maybeCompleteJoin completes the join phase once every member has rejoined
// and no member id handed out by MEMBER_ID_REQUIRED is outstanding.
func (c *Coordinator) maybeCompleteJoin(g *group) {
	if g.state != statePreparingRebalance || g.initialDelay {
		return
	}
	if len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if !m.joined {
			return
		}
	}
	c.completeJoin(g)
}

// completeJoin ends the join phase: members that did not rejoin are removed,
// the generation advances, a protocol is chosen and every parked JoinGroup
// is answered (the leader gets the member list).
func (c *Coordinator) completeJoin(g *group) {
	if g.rebalanceTimer != nil {
		g.rebalanceTimer.Stop()
		g.rebalanceTimer = nil
	}
	for _, m := range g.members {
		if !m.joined {
			c.removeMember(g, m, kerr.UnknownMemberID.Code)
		}
	}
	for id, t := range g.pending {
		t.Stop()
		delete(g.pending, id)
	}
	now := c.now()
	g.generation++
	if len(g.members) == 0 {
		g.protocol, g.leader = "", ""
		g.setState(stateEmpty, now)
		c.persistGroup(g)
		return
	}
	if _, ok := g.members[g.leader]; !ok {
		g.leader = ""
		for id := range g.members {
			g.leader = id
			break
		}
	}
	g.protocol = g.selectProtocol()
	g.setState(stateCompletingRebalance, now)
	c.logger.Debug("rebalance: join complete", "group", g.name, "generation", g.generation, "members", len(g.members), "protocol", g.protocol)
	var all []kmsg.JoinGroupResponseMember
	for _, m := range g.members {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = m.id
		jm.InstanceID = m.instanceID
		jm.ProtocolMetadata = m.metadataFor(g.protocol)
		all = append(all, jm)
	}
	for _, m := range g.members {
		res := joinResult{
			generation: g.generation,
			protoType:  g.protocolType,
			protocol:   g.protocol,
			leader:     g.leader,
			memberID:   m.id,
		}
		if m.id == g.leader {
			res.members = all
		}
		for _, w := range m.joinWaiters {
			w <- res
		}
		m.joinWaiters, m.joined = nil, false
		c.resetSession(g, m)
	}
}

// resetSession restarts a member's session timer.
func (c *Coordinator) resetSession(g *group, m *member) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timerSeq++
	seq := m.timerSeq
	m.timer = time.AfterFunc(m.sessionTimeout, func() { c.sessionExpired(g, m, seq) })
}

// sessionExpired removes a member whose session timed out. It takes c.mu.
func (c *Coordinator) sessionExpired(g *group, m *member, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.groups[g.name] != g || g.members[m.id] != m || m.timerSeq != seq {
		return
	}
	if m.joined {
		return // waiting in JoinGroup: the rebalance timeout governs it
	}
	c.logger.Debug("member session expired", "group", g.name, "member", m.id)
	c.removeMember(g, m, kerr.UnknownMemberID.Code)
	c.memberGone(g)
}

// addPending records a member id handed out with MEMBER_ID_REQUIRED; it is
// forgotten unless the member rejoins within its session timeout.
func (c *Coordinator) addPending(g *group, id string, session time.Duration) {
	g.pending[id] = time.AfterFunc(session, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed || c.groups[g.name] != g {
			return
		}
		if _, ok := g.pending[id]; ok {
			delete(g.pending, id)
			c.maybeCompleteJoin(g)
		}
	})
}

// persistGroup appends the group's metadata record (no fsync; expects c.mu).
func (c *Coordinator) persistGroup(g *group) {
	if err := c.appendLocked([]storedRecord{groupRecord(g)}, false); err != nil {
		c.logger.Warn("writing group metadata", "group", g.name, "err", err)
	}
}
