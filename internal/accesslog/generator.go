// Package accesslog generates and parses web server access logs in the
// Apache/NCSA combined log format:
//
//	%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"
//	203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /products/42 HTTP/1.1" 200 5123 "https://www.google.com/" "Mozilla/5.0 ..."
//
// The generator is deterministic for a given seed, so tests and demos are
// reproducible. Its traffic looks like a small shop's site: a few hundred
// clients with Zipf-distributed activity, each keeping one user agent; pages,
// API calls and static assets with their own status and size distributions;
// crawlers that fetch robots.txt; scanners that probe for admin pages and get
// 404s; occasional server errors.
//
// Parse reads a line back; Record is its structured form; Transform (type
// accesslog) turns lines into JSON records inside agents and connectors.
package accesslog

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is the Apache %t timestamp layout, without the brackets.
const TimeLayout = "02/Jan/2006:15:04:05 -0700"

// Entry is one access-log line's fields.
type Entry struct {
	ClientIP  string    // %h
	Ident     string    // %l, "-" when unknown
	User      string    // %u, "-" when not authenticated
	Time      time.Time // %t
	Method    string    // request method
	Path      string    // request URI
	Proto     string    // HTTP/1.0, HTTP/1.1, HTTP/2.0
	Status    int       // %>s
	Size      int64     // %b, response bytes without headers; 0 is written as "-"
	Referer   string    // "-" when none
	UserAgent string    // "-" when none
}

// String formats e as one combined-log-format line without a trailing newline.
func (e Entry) String() string {
	return string(e.Append(nil))
}

// Append appends e in combined log format to b and returns the extended slice.
func (e Entry) Append(b []byte) []byte {
	b = append(b, orDash(e.ClientIP)...)
	b = append(b, ' ')
	b = append(b, orDash(e.Ident)...)
	b = append(b, ' ')
	b = append(b, orDash(e.User)...)
	b = append(b, " ["...)
	b = e.Time.AppendFormat(b, TimeLayout)
	b = append(b, "] \""...)
	b = append(b, e.Method...)
	b = append(b, ' ')
	b = append(b, e.Path...)
	b = append(b, ' ')
	b = append(b, e.Proto...)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	if e.Size > 0 {
		b = strconv.AppendInt(b, e.Size, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, " \""...)
	b = append(b, orDash(e.Referer)...)
	b = append(b, "\" \""...)
	b = append(b, orDash(e.UserAgent)...)
	b = append(b, '"')
	return b
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Generator produces a stream of plausible access-log entries. It is not safe
// for concurrent use.
type Generator struct {
	rng     *rand.Rand
	clients []client
	zipf    *rand.Zipf
	host    string
}

type client struct {
	ip    string
	agent string
	user  string // logged-in user name or "-"
	kind  clientKind
	last  string // last page visited, the next request's referer
}

type clientKind int

const (
	browser clientKind = iota
	crawler
	scanner
	apiClient
)

// Option configures a Generator.
type Option func(*genConfig)

type genConfig struct {
	clients int
	host    string
}

// WithClients sets how many distinct clients (IP addresses) appear; default 500.
func WithClients(n int) Option {
	return func(c *genConfig) {
		if n > 0 {
			c.clients = n
		}
	}
}

// WithHost sets the site's host name used in internal referers; default "shop.example.com".
func WithHost(h string) Option {
	return func(c *genConfig) { c.host = h }
}

// NewGenerator returns a generator whose output is fully determined by seed.
func NewGenerator(seed uint64, opts ...Option) *Generator {
	cfg := genConfig{clients: 500, host: "shop.example.com"}
	for _, o := range opts {
		o(&cfg)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := &Generator{rng: rng, host: cfg.host}
	g.zipf = rand.NewZipf(rng, 1.1, 4, uint64(cfg.clients-1))
	g.clients = make([]client, cfg.clients)
	for i := range g.clients {
		g.clients[i] = g.newClient()
	}
	return g
}

func (g *Generator) newClient() client {
	c := client{user: "-"}
	r := g.rng.Float64()
	switch {
	case r < 0.80:
		c.kind = browser
		c.agent = pick(g.rng, browserAgents)
		if g.rng.Float64() < 0.15 {
			c.user = pick(g.rng, userNames)
		}
	case r < 0.88:
		c.kind = crawler
		c.agent = pick(g.rng, crawlerAgents)
	case r < 0.93:
		c.kind = scanner
		c.agent = pick(g.rng, scannerAgents)
	default:
		c.kind = apiClient
		c.agent = pick(g.rng, apiAgents)
	}
	c.ip = g.ip()
	return c
}

// ip returns a random address from the documentation and private-looking
// public ranges, never a real well-known host.
func (g *Generator) ip() string {
	if g.rng.Float64() < 0.1 {
		return fmt.Sprintf("2001:db8:%x:%x::%x", g.rng.IntN(0x10000), g.rng.IntN(0x10000), 1+g.rng.IntN(0xfffe))
	}
	prefixes := [...]string{"198.51.100", "203.0.113", "192.0.2"}
	if g.rng.Float64() < 0.6 {
		return fmt.Sprintf("%s.%d", prefixes[g.rng.IntN(len(prefixes))], 1+g.rng.IntN(254))
	}
	return fmt.Sprintf("%d.%d.%d.%d", 11+g.rng.IntN(180), g.rng.IntN(256), g.rng.IntN(256), 1+g.rng.IntN(254))
}

// Next returns the next entry, stamped with t.
func (g *Generator) Next(t time.Time) Entry {
	c := &g.clients[g.zipf.Uint64()]
	e := Entry{
		ClientIP:  c.ip,
		Ident:     "-",
		User:      c.user,
		Time:      t,
		Method:    "GET",
		Proto:     "HTTP/1.1",
		Referer:   "-",
		UserAgent: c.agent,
	}
	if g.rng.Float64() < 0.2 {
		e.Proto = "HTTP/2.0"
	}
	switch c.kind {
	case crawler:
		g.crawl(c, &e)
	case scanner:
		g.scan(&e)
	case apiClient:
		g.api(&e)
	default:
		g.browse(c, &e)
	}
	if e.Status >= 200 && e.Status < 300 && g.rng.Float64() < 0.004 {
		// An occasional server-side failure, whatever was asked for.
		e.Status = pickWeighted(g.rng, []weighted[int]{{500, 6}, {502, 2}, {503, 2}, {504, 1}})
		e.Size = int64(200 + g.rng.IntN(400))
	}
	return e
}

func (g *Generator) browse(c *client, e *Entry) {
	r := g.rng.Float64()
	switch {
	case r < 0.45: // a page
		e.Path = g.page()
		e.Status = 200
		e.Size = g.logNormal(9.3, 0.5) // ~11 KB
		if c.last != "" {
			e.Referer = "https://" + g.host + c.last
		} else {
			e.Referer = pickWeighted(g.rng, externalReferers)
		}
		switch x := g.rng.Float64(); {
		case x < 0.03:
			e.Status, e.Size = 404, int64(1800+g.rng.IntN(300))
		case x < 0.05:
			e.Status, e.Size = 301, int64(230+g.rng.IntN(40))
		case x < 0.07 && c.user == "-" && strings.HasPrefix(e.Path, "/account"):
			e.Status, e.Size = 302, 0
		}
		c.last = e.Path
	case r < 0.90: // a static asset of the last page
		e.Path = pick(g.rng, staticAssets)
		if c.last != "" {
			e.Referer = "https://" + g.host + c.last
		}
		if g.rng.Float64() < 0.35 {
			e.Status, e.Size = 304, 0
		} else {
			e.Status = 200
			e.Size = g.logNormal(10.2, 1.0) // ~27 KB
		}
	case r < 0.93:
		e.Path = "/favicon.ico"
		e.Status, e.Size = 200, 15086
		if g.rng.Float64() < 0.5 {
			e.Status, e.Size = 304, 0
		}
	case r < 0.98: // the page's own API calls
		g.api(e)
		if c.last != "" {
			e.Referer = "https://" + g.host + c.last
		}
	default: // logging in or checking out
		e.Method = "POST"
		e.Path = pick(g.rng, []string{"/login", "/cart/add", "/checkout", "/search"})
		switch x := g.rng.Float64(); {
		case x < 0.7:
			e.Status, e.Size = 302, 0
		case x < 0.9:
			e.Status, e.Size = 200, g.logNormal(8.5, 0.4)
		case x < 0.97:
			e.Status, e.Size = 401, 512
		default:
			e.Status, e.Size = 403, 420
		}
		if c.last != "" {
			e.Referer = "https://" + g.host + c.last
		}
	}
}

func (g *Generator) crawl(c *client, e *Entry) {
	if c.last == "" || g.rng.Float64() < 0.05 {
		e.Path = "/robots.txt"
		e.Status, e.Size = 200, 412
		c.last = e.Path
		return
	}
	if g.rng.Float64() < 0.1 {
		e.Path = "/sitemap.xml"
		e.Status, e.Size = 200, g.logNormal(10.5, 0.2)
		return
	}
	e.Path = g.page()
	e.Status, e.Size = 200, g.logNormal(9.3, 0.5)
	switch x := g.rng.Float64(); {
	case x < 0.08:
		e.Status, e.Size = 404, int64(1800+g.rng.IntN(300))
	case x < 0.14:
		e.Status, e.Size = 301, int64(230+g.rng.IntN(40))
	case x < 0.20:
		e.Method = "HEAD"
		e.Size = 0
	}
	c.last = e.Path
}

func (g *Generator) scan(e *Entry) {
	e.Path = pick(g.rng, scanPaths)
	e.Proto = "HTTP/1.0"
	if g.rng.Float64() < 0.2 {
		e.Method = "POST"
	}
	e.Status, e.Size = 404, int64(1800+g.rng.IntN(300))
	if g.rng.Float64() < 0.1 {
		e.Status, e.Size = 403, 420
	}
	if g.rng.Float64() < 0.05 {
		e.Status, e.Size = 400, 226
		e.Path = "/%" + strconv.Itoa(g.rng.IntN(100)) + "x"
	}
}

func (g *Generator) api(e *Entry) {
	id := g.rng.IntN(5000) + 1
	paths := []weighted[string]{
		{"/api/v1/products?page=" + strconv.Itoa(1+g.rng.IntN(20)), 30},
		{"/api/v1/products/" + strconv.Itoa(id), 30},
		{"/api/v1/cart", 15},
		{"/api/v1/recommendations?user=" + strconv.Itoa(id), 10},
		{"/api/v1/stock/" + strconv.Itoa(id), 10},
		{"/healthz", 5},
	}
	e.Path = pickWeighted(g.rng, paths)
	e.Status, e.Size = 200, g.logNormal(7.5, 0.8) // ~2 KB JSON
	switch x := g.rng.Float64(); {
	case x < 0.04:
		e.Status, e.Size = 404, 54
	case x < 0.06:
		e.Status, e.Size = 429, 72
	case x < 0.08:
		e.Method = "POST"
		e.Status, e.Size = 201, g.logNormal(6, 0.3)
	}
	if e.Path == "/healthz" {
		e.Status, e.Size = 200, 2
	}
}

func (g *Generator) page() string {
	switch r := g.rng.Float64(); {
	case r < 0.25:
		return "/"
	case r < 0.55:
		return "/products/" + strconv.Itoa(int(g.zipfInt(5000)))
	case r < 0.70:
		return "/category/" + pick(g.rng, categories)
	case r < 0.80:
		return "/search?q=" + pick(g.rng, searchTerms)
	case r < 0.86:
		return "/cart"
	case r < 0.90:
		return "/account/orders"
	case r < 0.95:
		return "/blog/" + pick(g.rng, blogPosts)
	default:
		return pick(g.rng, []string{"/about", "/contact", "/help/shipping", "/help/returns", "/privacy"})
	}
}

// zipfInt returns a popularity-skewed id in [1, n].
func (g *Generator) zipfInt(n int) int64 {
	// Inverse transform of a power law: cheap, and skewed enough to make a few
	// products popular.
	u := g.rng.Float64()
	return 1 + int64(float64(n-1)*math.Pow(u, 3))
}

func (g *Generator) logNormal(mu, sigma float64) int64 {
	v := math.Exp(mu + sigma*g.rng.NormFloat64())
	if v < 1 {
		v = 1
	}
	if v > 50<<20 {
		v = 50 << 20
	}
	return int64(v)
}

type weighted[T any] struct {
	v T
	w int
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func pickWeighted[T any](rng *rand.Rand, xs []weighted[T]) T {
	total := 0
	for _, x := range xs {
		total += x.w
	}
	n := rng.IntN(total)
	for _, x := range xs {
		if n < x.w {
			return x.v
		}
		n -= x.w
	}
	return xs[len(xs)-1].v
}
