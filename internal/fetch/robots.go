package fetch

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/useragent"
)

// robots.txt handling follows RFC 9309 (the Robots Exclusion Protocol):
// groups addressed to our product token win over `*` groups, the longest
// matching rule decides, an Allow wins a tie, and `*` and `$` are the only
// special characters.
const (
	// robotsMaxBytes is how much of a robots.txt is read; RFC 9309 asks
	// crawlers to parse at least 500 KiB and lets them ignore the rest.
	robotsMaxBytes = 512 << 10
	// robotsMaxAge bounds how long a fetched robots.txt is trusted (RFC 9309
	// 2.4: caches SHOULD NOT be used for more than 24 hours).
	robotsMaxAge = 24 * time.Hour
	// robotsRetry is how long an unreachable robots.txt (5xx, 429) keeps
	// its host closed before it is asked for again.
	robotsRetry = time.Minute
	// robotsCacheHosts and robotsCacheBytes bound the cache. Hosts are few
	// next to URLs, but a URL list can name any number of them, each with a
	// robots.txt of up to robotsMaxBytes, and memory must stay flat.
	robotsCacheHosts = 4096
	robotsCacheBytes = 64 << 20
)

// robotsRule is one Allow or Disallow line, its path pattern normalised.
type robotsRule struct {
	allow   bool
	pattern string
}

// robotsRules are the rules of the groups that apply to scour; nil allows all.
type robotsRules []robotsRule

// parseRobots keeps the rules that apply to token: those of every group
// that names it (RFC 9309 2.2.1: matching groups are combined), or else
// those of every `*` group. Lines it does not understand are ignored.
func parseRobots(body []byte, token string) robotsRules {
	type group struct {
		agents []string
		rules  robotsRules
	}
	var groups []*group
	var cur *group
	inAgents := false // the previous record was a user-agent line
	for _, line := range strings.Split(string(body), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		switch key {
		case "user-agent":
			if !inAgents {
				cur = &group{}
				groups = append(groups, cur)
			}
			// "scour/1.0" and "Scour" both address us: the product token
			// is matched case-insensitively, without a version.
			name, _, _ := strings.Cut(val, "/")
			cur.agents = append(cur.agents, strings.ToLower(strings.TrimSpace(name)))
			inAgents = true
		case "allow", "disallow":
			inAgents = false
			if cur == nil {
				continue // a rule before any user-agent line belongs to no group
			}
			if val == "" {
				continue // "Disallow:" with no path matches nothing
			}
			cur.rules = append(cur.rules, robotsRule{allow: key == "allow", pattern: normalizeRobotsPath(val)})
		default:
			// Sitemap, Crawl-delay and the like neither end a group nor
			// add to it.
		}
	}
	token = strings.ToLower(token)
	var mine, star robotsRules
	var haveMine bool
	for _, g := range groups {
		for _, a := range g.agents {
			switch a {
			case token:
				haveMine = true
				mine = append(mine, g.rules...)
			case "*":
				star = append(star, g.rules...)
			default:
				continue
			}
			break
		}
	}
	if haveMine {
		return mine
	}
	return star
}

// allows reports whether path (escaped, with its query) may be fetched.
func (r robotsRules) allows(path string) bool {
	path = normalizeRobotsPath(path)
	if path == "/robots.txt" {
		return true // RFC 9309 2.2.2: always allowed
	}
	best, allow := -1, true
	for _, rule := range r {
		if !robotsMatch(rule.pattern, path) {
			continue
		}
		n := len(rule.pattern)
		if n > best || n == best && rule.allow {
			best, allow = n, rule.allow
		}
	}
	return allow
}

// robotsMatch matches a robots.txt path pattern: a prefix match where `*`
// stands for any run of characters and a final `$` anchors the end.
func robotsMatch(pattern, path string) bool {
	anchored := strings.HasSuffix(pattern, "$")
	if anchored {
		pattern = pattern[:len(pattern)-1]
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(path, parts[0]) {
		return false
	}
	pos := len(parts[0])
	if len(parts) == 1 {
		return !anchored || pos == len(path)
	}
	for i, p := range parts[1:] {
		if anchored && i == len(parts)-2 {
			// Taking every earlier piece at its first occurrence leaves
			// the most room for the last one to end the path.
			return len(path)-len(p) >= pos && strings.HasSuffix(path, p)
		}
		j := strings.Index(path[pos:], p)
		if j < 0 {
			return false
		}
		pos += j + len(p)
	}
	return true
}

// normalizeRobotsPath brings a path from a URL or from robots.txt to one
// form (RFC 9309 2.2.2): percent-escapes of unreserved ASCII are decoded,
// other escapes get upper-case hex digits, and raw non-ASCII bytes are
// escaped, so that "/%7Ejoe", "/~joe" and "/%7ejoe" all compare equal.
func normalizeRobotsPath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(v) {
				b.WriteByte(v)
			} else {
				fmt.Fprintf(&b, "%%%02X", v)
			}
			i += 2
		case c >= 0x80 || c <= ' ':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// robotsPath is what of u robots.txt rules are matched against.
func robotsPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		p += "?" + u.RawQuery
	}
	return p
}

// robotsOrigin names the robots.txt that covers u: one per scheme, host
// and port (RFC 9309 2.3).
func robotsOrigin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// robotsAnswer is what a host's robots.txt said: rules, or unreachable,
// an error to report for every URL of the host for a while.
type robotsAnswer struct {
	rules       robotsRules
	unreachable error
}

// robotsEntry is one host's robots.txt, or the fetch of it in progress.
type robotsEntry struct {
	origin string
	ready  chan struct{} // closed once the fields below are set
	// Set before ready is closed, read only after.
	rules       robotsRules
	unreachable error // non-nil: RFC 9309 says assume complete disallow
	interrupted bool  // the fetch was cut short; nothing was learnt
	expires     time.Time
	size        int // counted in robotsCache.bytes; guarded by its mu
}

// robotsCache holds robots.txt per origin, least recently used out first,
// and lets concurrent requests for one origin share a single fetch.
type robotsCache struct {
	mu       sync.Mutex
	max      int // entries
	maxBytes int // rules held by all entries
	bytes    int
	m        map[string]*list.Element
	lru      list.List // of *robotsEntry, most recent at the front
}

func newRobotsCache(max, maxBytes int) *robotsCache {
	return &robotsCache{max: max, maxBytes: maxBytes, m: map[string]*list.Element{}}
}

// remove drops el; c.mu is held.
func (c *robotsCache) remove(el *list.Element) {
	e := el.Value.(*robotsEntry)
	c.lru.Remove(el)
	delete(c.m, e.origin)
	c.bytes -= e.size
}

// trim evicts least recently used entries beyond the bounds, keeping the
// newest one whatever its size; c.mu is held.
func (c *robotsCache) trim() {
	for c.lru.Len() > 1 && (c.lru.Len() > c.max || c.bytes > c.maxBytes) {
		c.remove(c.lru.Back())
	}
}

// get returns origin's entry, running fetch once for all concurrent callers.
func (c *robotsCache) get(ctx context.Context, origin string, fetch func(context.Context) (robotsAnswer, error)) (*robotsEntry, error) {
	for {
		c.mu.Lock()
		if el, ok := c.m[origin]; ok {
			e := el.Value.(*robotsEntry)
			select {
			case <-e.ready:
				if time.Now().Before(e.expires) {
					c.lru.MoveToFront(el)
					c.mu.Unlock()
					return e, nil
				}
				c.remove(el)
			default:
				c.mu.Unlock()
				select {
				case <-e.ready:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				if e.interrupted {
					// Nothing was learnt (the network failed, or that
					// caller gave up): ask again. The host's breaker
					// bounds how often a dead host is asked.
					continue
				}
				return e, nil
			}
		}
		e := &robotsEntry{origin: origin, ready: make(chan struct{})}
		c.m[origin] = c.lru.PushFront(e)
		c.trim()
		c.mu.Unlock()

		ans, err := fetch(ctx)
		if err != nil {
			// Not an answer about robots.txt (a network failure, the
			// caller's context): forget it, so the next URL asks again
			// and the failure counts for the host's breaker as any other.
			c.mu.Lock()
			if el, ok := c.m[origin]; ok && el.Value.(*robotsEntry) == e {
				c.remove(el)
			}
			c.mu.Unlock()
			e.interrupted = true
			close(e.ready)
			return nil, err
		}
		e.rules, e.unreachable = ans.rules, ans.unreachable
		e.expires = time.Now().Add(robotsMaxAge)
		if ans.unreachable != nil {
			e.expires = time.Now().Add(robotsRetry)
		}
		c.mu.Lock()
		if el, ok := c.m[origin]; ok && el.Value.(*robotsEntry) == e {
			e.size = ans.rules.size()
			c.bytes += e.size
			c.trim()
		}
		c.mu.Unlock()
		close(e.ready)
		return e, nil
	}
}

// robotsFetchKey marks the context of a robots.txt request, whose redirects
// are not themselves checked against robots.txt (that would wait on itself).
type robotsFetchKey struct{}

// size is roughly the memory r holds.
func (r robotsRules) size() int {
	n := 0
	for _, rule := range r {
		n += len(rule.pattern) + 32
	}
	return n
}

// robotsAllow checks u against its host's robots.txt, fetching that once.
// The error is a permanent `opted-out` when the site disallows u, a
// retryable `robots-unreachable` while its robots.txt cannot be had, or
// whatever failed on the way (network, host-down, interrupted).
func (f *Fetcher) robotsAllow(ctx context.Context, u *url.URL) error {
	origin := robotsOrigin(u)
	e, err := f.robots.get(ctx, origin, func(ctx context.Context) (robotsAnswer, error) {
		return f.fetchRobots(ctx, u)
	})
	if err != nil {
		if ctx.Err() != nil {
			return errkind.WithCause(errkind.Retryable(fmt.Errorf("interrupted: %w", ctx.Err()), 0), "interrupted")
		}
		return err
	}
	if e.unreachable != nil {
		return e.unreachable
	}
	if !e.rules.allows(robotsPath(u)) {
		return errkind.WithCause(errkind.Permanent(fmt.Errorf("%s/robots.txt disallows %s for %s (set fetch.robots: false only for servers you run)", origin, u.Redacted(), useragent.Token)), "opted-out")
	}
	return nil
}

// fetchRobots asks u's host for /robots.txt. An error means nothing was
// learnt (the network failed, the caller gave up): the next URL asks again.
func (f *Fetcher) fetchRobots(ctx context.Context, u *url.URL) (robotsAnswer, error) {
	h := f.hosts.acquire(u.Host)
	defer f.hosts.release(h, false)
	probe, err := h.wait(ctx, false)
	if err != nil {
		return robotsAnswer{}, err
	}
	outcome := outcomeNeutral
	defer func() { h.report(probe, outcome, f.o.HostFailures, f.o.HostCooldown) }()

	ctx, cancel := context.WithTimeout(context.WithValue(ctx, robotsFetchKey{}, true), f.o.Timeout)
	defer cancel()
	ru := url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/robots.txt"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ru.String(), nil)
	if err != nil {
		return robotsAnswer{}, errkind.WithCause(errkind.Permanent(err), "bad-url")
	}
	req.Header.Set("User-Agent", f.o.UserAgent)
	resp, err := f.client.Do(req)
	if err != nil {
		if isConnFailure(ctx, u, err) {
			outcome = outcomeFailed
		}
		cerr := classifyNetErr(ctx, err)
		switch errkind.Cause(cerr) {
		case "too-many-redirects", "redirect-loop":
			// RFC 9309 2.3.1.2: past five redirects, robots.txt may be
			// taken as unavailable, which allows everything.
			return robotsAnswer{}, nil
		}
		return robotsAnswer{}, fmt.Errorf("fetching %s: %w", ru.Redacted(), cerr)
	}
	outcome = outcomeAnswered
	defer resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		body, err := io.ReadAll(io.LimitReader(resp.Body, robotsMaxBytes))
		if err != nil {
			return robotsAnswer{}, fmt.Errorf("reading %s: %w", ru.Redacted(), classifyNetErr(ctx, err))
		}
		return robotsAnswer{rules: parseRobots(body, useragent.Token)}, nil
	case code == http.StatusTooManyRequests || code >= 500:
		// RFC 9309 2.3.1.4: a server error means the rules are unknown,
		// and a crawler must assume complete disallow until it can read
		// them. 429 is read the same way: the host asks us to back off.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		if ra := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ra > 0 {
			h.pause(ra)
		}
		return robotsAnswer{unreachable: errkind.WithCause(errkind.Retryable(fmt.Errorf("%s answered HTTP %d: its rules are unknown, so none of its images are fetched now (RFC 9309); a later run tries again", ru.Redacted(), code), 0), "robots-unreachable")}, nil
	default:
		// RFC 9309 2.3.1.3: 4xx (401 and 403 included) means there is no
		// robots.txt, and a crawler may fetch anything. Other statuses
		// (1xx, 3xx past redirects) are read the same way.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return robotsAnswer{}, nil
	}
}
