package freeswitch

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

var _ presence.CallController = (*Adapter)(nil)

// defaultOriginateTimeout is how long the phone rings when the request
// says nothing (originate_timeout), as on Asterisk.
const defaultOriginateTimeout = 30

// job is a bgapi command waiting for its BACKGROUND_JOB. finished is
// closed once result is set.
type job struct {
	callID   string
	result   JobResult
	finished chan struct{}
}

// keptJobs is how many finished jobs Job can still report.
const keptJobs = 1024

// JobResult is what a bgapi job answered: "+OK <uuid>" or "-ERR <cause>".
type JobResult struct {
	CallID string
	Err    error
}

// Originate places a call on the node with `bgapi originate`: it rings
// req.From (user/<user>@<domain>: the phone rings first, as in a
// callback) and, once answered, sends the call to req.To: through the
// named gateway (&bridge(sofia/gateway/<gw>/<number>)) or, on-net, to
// extension req.To in the phones' dialplan context, routed exactly as if
// the phone had dialled it. The caller ID the phone shows is req.CallerName
// and req.CallerNumber; req.Timeout bounds the ringing (30 s when zero).
//
// The call's uuid is chosen here (origination_uuid), so the id returned
// is known before any event about the leg and Hangup can end it at once.
// Originate returns once FreeSWITCH accepted the job; the job's outcome
// (answered, or the cause it failed with) arrives later as a
// BACKGROUND_JOB event: Job reports it, and a failure is logged.
func (a *Adapter) Originate(ctx context.Context, req presence.OriginateRequest) (string, error) {
	from, fromDomain := a.splitAOR(req.From)
	if from == "" || !safeArg(from) || !safeArg(fromDomain) {
		return "", fmt.Errorf("freeswitch: originate: bad caller %q", req.From)
	}
	to, toDomain := a.splitAOR(req.To)
	if to == "" || !safeArg(to) || !safeArg(req.Gateway) || !safeArg(toDomain) {
		return "", fmt.Errorf("freeswitch: originate from %s: bad destination %q", from, req.To)
	}
	id := newUUID()
	timeout := defaultOriginateTimeout
	if req.Timeout > 0 {
		timeout = int(math.Ceil(req.Timeout.Seconds()))
	}
	vars := []string{
		"origination_uuid=" + id,
		fmt.Sprintf("originate_timeout=%d", timeout),
	}
	if req.CallerName != "" {
		vars = append(vars, "origination_caller_id_name="+quoteVar(req.CallerName))
	}
	if req.CallerNumber != "" {
		vars = append(vars, "origination_caller_id_number="+quoteVar(req.CallerNumber))
	}
	args := "{" + strings.Join(vars, ",") + "}user/" + from + "@" + fromDomain
	if req.Gateway != "" {
		args += " &bridge(sofia/gateway/" + req.Gateway + "/" + to + ")"
	} else {
		args += " " + to + " XML " + a.cfg.UserContext
	}
	jobID := newUUID()
	j := &job{callID: id, finished: make(chan struct{})}
	a.jobsMu.Lock()
	a.jobs[jobID] = j
	a.byCall[id] = j
	a.callOrder = append(a.callOrder, id)
	if len(a.callOrder) > keptJobs {
		delete(a.byCall, a.callOrder[0])
		a.callOrder = a.callOrder[1:]
	}
	a.jobsMu.Unlock()

	c, ctx, cancel, err := a.live(ctx)
	if err != nil {
		a.dropJob(jobID)
		return "", fmt.Errorf("freeswitch: originate from %s to %s: %w", from, to, err)
	}
	defer cancel()
	// The Job-UUID chosen here is the one FreeSWITCH gives the job's
	// BACKGROUND_JOB event.
	resp, err := c.command(ctx, "bgapi originate "+args+"\nJob-UUID: "+jobID)
	if err != nil {
		a.dropJob(jobID)
		return "", fmt.Errorf("freeswitch: originate from %s to %s: %w", from, to, err)
	}
	if reply := resp.replyText; !strings.HasPrefix(reply, "+OK") {
		a.dropJob(jobID)
		return "", fmt.Errorf("freeswitch: originate from %s to %s: %s", from, to, strings.TrimSpace(reply))
	}
	go a.watchJob(jobID, j, from, to)
	return id, nil
}

// watchJob logs a job's failure; jobs that never finish are failed when
// the connection drops (failJobs).
func (a *Adapter) watchJob(jobID string, j *job, from, to string) {
	<-j.finished
	if j.result.Err != nil {
		a.log.Warn("freeswitch: originate failed", "from", from, "to", to, "call", j.callID, "job", jobID, "err", j.result.Err)
	}
}

// finishJob routes a BACKGROUND_JOB event to its job.
func (a *Adapter) finishJob(ev Event) {
	id := ev.Get("Job-UUID")
	a.jobsMu.Lock()
	j := a.jobs[id]
	delete(a.jobs, id)
	a.jobsMu.Unlock()
	if j == nil {
		return
	}
	body := strings.TrimSpace(string(ev.Body))
	r := JobResult{CallID: j.callID}
	if !strings.HasPrefix(body, "+OK") {
		r.Err = fmt.Errorf("freeswitch: job %s: %s", id, body)
	}
	j.result = r
	close(j.finished)
}

// failJobs ends every waiting job with err: their BACKGROUND_JOB can no
// longer arrive.
func (a *Adapter) failJobs(err error) {
	a.jobsMu.Lock()
	jobs := a.jobs
	a.jobs = map[string]*job{}
	a.jobsMu.Unlock()
	for _, j := range jobs {
		j.result = JobResult{CallID: j.callID, Err: err}
		close(j.finished)
	}
}

func (a *Adapter) dropJob(id string) {
	a.jobsMu.Lock()
	delete(a.jobs, id)
	a.jobsMu.Unlock()
}

// Hangup ends a channel of the node with uuid_kill (NORMAL_CLEARING). A
// channel FreeSWITCH does not know gives an error wrapping
// presence.ErrUnknownCall.
func (a *Adapter) Hangup(ctx context.Context, callID string) error {
	if callID == "" || !safeArg(callID) {
		return fmt.Errorf("freeswitch: hangup %q: %w", callID, presence.ErrUnknownCall)
	}
	_, err := a.API(ctx, "uuid_kill "+callID+" NORMAL_CLEARING")
	var ae *APIError
	if errors.As(err, &ae) && strings.Contains(strings.ToLower(ae.Error()), "no such channel") {
		return fmt.Errorf("freeswitch: hangup %q: %w: %w", callID, presence.ErrUnknownCall, err)
	}
	if err != nil {
		return fmt.Errorf("freeswitch: hangup %q: %w", callID, err)
	}
	return nil
}

// splitAOR maps an AOR (or a bare user or number) onto user and domain,
// the node's Domain when it names none.
func (a *Adapter) splitAOR(aor string) (user, domain string) {
	aor = strings.TrimSpace(strings.TrimPrefix(aor, "sip:"))
	if u, d, ok := strings.Cut(aor, "@"); ok {
		return u, d
	}
	return aor, a.cfg.Domain
}

// safeArg reports whether s can go into an originate command line as is:
// no spaces, braces, commas, quotes or line breaks that would change the
// command's meaning.
func safeArg(s string) bool {
	return !strings.ContainsAny(s, " \t\r\n{}[](),'\"&|;")
}

// quoteVar renders a channel variable's value for {…}: single-quoted when
// it has spaces, with the characters that would end it removed.
func quoteVar(v string) string {
	v = strings.Map(func(r rune) rune {
		switch r {
		case '\'', '{', '}', ',', '\r', '\n', '\\':
			return -1
		}
		return r
	}, v)
	if strings.ContainsAny(v, " \t") {
		return "'" + v + "'"
	}
	return v
}

// newUUID returns a random (version 4) UUID, the form FreeSWITCH uses.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Job waits for the outcome of the originate that returned callID (one of
// the last keptJobs), for callers that care; it returns ctx's error if ctx
// ends first.
func (a *Adapter) Job(ctx context.Context, callID string) (JobResult, error) {
	a.jobsMu.Lock()
	j := a.byCall[callID]
	a.jobsMu.Unlock()
	if j == nil {
		return JobResult{}, fmt.Errorf("freeswitch: no job for call %s", callID)
	}
	select {
	case <-j.finished:
		return j.result, nil
	case <-ctx.Done():
		return JobResult{}, ctx.Err()
	}
}
