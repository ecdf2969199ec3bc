// Command bench times a full catalog scan by cnpg-restore-gen against barman-cloud-backup-list
// and `aws s3 ls --recursive` on one large synthetic catalog in a real S3 server (versitygw on
// 127.0.0.1), behind a TCP proxy that adds a fixed round-trip time. Run by `make bench`.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/catalogtest"
)

const (
	accessKey = "benchadmin"
	secretKey = "benchsecret"
)

type options struct {
	scale       string
	rtt         time.Duration
	runs        int
	concurrency int
	tool        string
	vgw         string
	cache       string
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-launch" {
		os.Exit(launch(os.Args[2:]))
	}
	var o options
	flag.StringVar(&o.scale, "scale", envOr("BENCH_SCALE", "full"), "catalog size: small (20k WAL, 100 backups) or full (200k WAL, 500 backups)")
	flag.DurationVar(&o.rtt, "rtt", durationEnv("BENCH_RTT", 20*time.Millisecond), "round-trip time the proxy adds (0 for none)")
	flag.IntVar(&o.runs, "runs", intEnv("BENCH_RUNS", 3), "timed runs of each command")
	flag.IntVar(&o.concurrency, "max-concurrency", intEnv("BENCH_CONCURRENCY", 32), "cnpg-restore-gen --max-concurrency")
	flag.StringVar(&o.tool, "tool", "bin/cnpg-restore-gen", "the cnpg-restore-gen binary")
	flag.StringVar(&o.vgw, "versitygw", "bin/versitygw", "the versitygw binary")
	flag.StringVar(&o.cache, "cache", ".cache/bench", "where generated catalogs are kept between runs")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func intEnv(k string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(k), &n); err == nil && n > 0 {
		return n
	}
	return def
}

func durationEnv(k string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(k)); err == nil {
		return d
	}
	return def
}

// result is one timed run.
type result struct {
	wall     time.Duration
	rssKB    int64
	requests int64
}

type command struct {
	name  string
	args  []string
	check func(stdout []byte) error
	runs  []result
}

func run(o options) error {
	sc, ok := scales[o.scale]
	if !ok {
		return fmt.Errorf("BENCH_SCALE %q is not small or full", o.scale)
	}
	for _, need := range []string{o.tool, o.vgw} {
		if _, err := os.Stat(need); err != nil {
			return fmt.Errorf("%s is missing (make build tools)", need)
		}
	}
	for _, need := range []string{"barman-cloud-backup-list", "aws"} {
		if _, err := exec.LookPath(need); err != nil {
			return fmt.Errorf("%s is not installed (make bench installs it with apt)", need)
		}
	}
	template, err := os.ReadFile("catalog/testdata/barman-cloud-3.4-pg15.backup.info")
	if err != nil {
		return err
	}
	root, err := filepath.Abs(filepath.Join(o.cache, sc.Name))
	if err != nil {
		return err
	}
	start := time.Now()
	lay, err := makeCatalog(root, sc, template)
	if err != nil {
		return fmt.Errorf("making the catalog: %w", err)
	}
	fmt.Printf("catalog: %d backups, %d WAL segments in %d directories, %d timelines (ready in %s, cached in %s)\n",
		sc.Backups, sc.Segments, lay.dirs, sc.Timelines, time.Since(start).Round(time.Millisecond), root)

	// The S3 server, logging one line per request: the request counter.
	port, err := freePort()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	vgw := exec.CommandContext(ctx, o.vgw, "--port", fmt.Sprintf("127.0.0.1:%d", port), "posix", root)
	vgw.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+accessKey, "ROOT_SECRET_KEY="+secretKey)
	out, err := vgw.StdoutPipe()
	if err != nil {
		return err
	}
	vgw.Stderr = vgw.Stdout
	if err := vgw.Start(); err != nil {
		return err
	}
	defer func() { cancel(); _ = vgw.Wait() }()
	var requests atomic.Int64
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "| vgw |") {
				requests.Add(1)
			}
		}
	}()
	if err := waitListening(fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		return err
	}
	proxy, err := startProxy(fmt.Sprintf("127.0.0.1:%d", port), o.rtt)
	if err != nil {
		return err
	}
	defer proxy.Close()
	endpoint := "http://" + proxy.Addr()

	var walRead string // what plan read of the WAL's records
	cmds := []*command{
		{name: "cnpg-restore-gen catalog list -o json", args: []string{o.tool, "catalog", "list", "--catalog", "s3://" + bucket + "/" + prefix,
			"--server-name", serverName, "--endpoint-url", endpoint, "--max-concurrency", fmt.Sprint(o.concurrency), "-o", "json", "-q"},
			check: func(b []byte) error { return checkOurs(b, sc) }},
		{name: "cnpg-restore-gen plan (latest)", args: []string{o.tool, "plan", "--cluster", "bench/" + serverName, "--catalog", "s3://" + bucket + "/" + prefix,
			"--endpoint-url", endpoint, "--max-concurrency", fmt.Sprint(o.concurrency), "-o", "json", "-q"},
			check: func(b []byte) error { return checkPlan(b, &walRead) }},
		{name: "barman-cloud-backup-list --format json", args: []string{"barman-cloud-backup-list", "--format", "json", "--endpoint-url", endpoint,
			"s3://" + bucket + "/" + prefix, serverName},
			check: func(b []byte) error { return checkBarman(b, sc) }},
		{name: "aws s3 ls --recursive", args: []string{"aws", "--endpoint-url", endpoint, "s3", "ls", "--recursive", "s3://" + bucket + "/" + prefix + "/" + serverName + "/"},
			check: func(b []byte) error { return checkAWS(b, sc, lay) }},
	}
	fmt.Printf("timing %d runs of each, alternating, through a proxy adding %s per round trip\n", o.runs, o.rtt)
	var floors, minimal []time.Duration
	direct := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; i < o.runs; i++ {
		for j := range cmds {
			c := cmds[(i+j)%len(cmds)]
			r, err := timeOne(c, &requests)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			c.runs = append(c.runs, r)
		}
		f, err := serverFloor(ctx, direct, o.concurrency)
		if err != nil {
			return fmt.Errorf("server floor: %w", err)
		}
		floors = append(floors, f)
		m, err := serverFloor(ctx, endpoint, o.concurrency)
		if err != nil {
			return fmt.Errorf("minimal client: %w", err)
		}
		minimal = append(minimal, m)
	}
	slices.Sort(floors)
	slices.Sort(minimal)
	floor, ideal := floors[len(floors)/2], minimal[len(minimal)/2]

	bpsg := bytesPerSegment()
	bound := lowerBound(lay, o.concurrency, o.rtt)
	ours, barman, aws := median(cmds[0].runs), median(cmds[2].runs), median(cmds[3].runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "command\tmedian wall\tpeak RSS\trequests\tvs ours\t")
	for _, c := range cmds {
		m := median(c.runs)
		fmt.Fprintf(tw, "%s\t%s\t%.1f MB\t%d\t%.1f×\t\n", c.name, m.wall.Round(time.Millisecond), float64(m.rssKB)/1024, m.requests, m.wall.Seconds()/ours.wall.Seconds())
	}
	fmt.Fprintf(tw, "round-trip lower bound\t%s\t\t%d\t%.1f×\t\n", bound.time.Round(time.Millisecond), bound.requests, bound.time.Seconds()/ours.wall.Seconds())
	fmt.Fprintf(tw, "server floor (no latency)\t%s\t\t%d\t%.1f×\t\n", floor.Round(time.Millisecond), bound.requests, floor.Seconds()/ours.wall.Seconds())
	fmt.Fprintf(tw, "minimal client (same proxy)\t%s\t\t%d\t%.1f×\t\n", ideal.Round(time.Millisecond), bound.requests, ideal.Seconds()/ours.wall.Seconds())
	_ = tw.Flush()
	fmt.Printf("lower bound: %d LIST pages and GETs (%d sequential before the fan-out, then %d over %d connections) × %s RTT\n",
		bound.requests, bound.levels, bound.requests-bound.levels, o.concurrency, o.rtt)
	fmt.Printf("index: %.1f bytes per WAL segment (1M segments, listing and build, allocations)\n", bpsg)
	fmt.Printf("server floor: those requests straight to the S3 server, no added latency, nothing done with the answers\n")
	fmt.Printf("minimal client: those requests through the same proxy, same concurrency, nothing done with the answers\n")
	limit := max(bound.time, ideal)
	ratio := ours.wall.Seconds() / limit.Seconds()
	fmt.Printf("ours vs round-trip bound %.1f×, vs server floor %.1f×, vs minimal client %.1f×; bound-ratio uses the larger of the round-trip bound and the minimal client (%s)\n",
		ours.wall.Seconds()/bound.time.Seconds(), ours.wall.Seconds()/floor.Seconds(), ours.wall.Seconds()/ideal.Seconds(), limit.Round(time.Millisecond))
	fmt.Printf("at this RTT ours is %.1f× faster than aws s3 ls --recursive\n", aws.wall.Seconds()/ours.wall.Seconds())
	fmt.Printf("plan: %s\n", walRead)
	fmt.Printf("bench: speedup-vs-barman=%.1f bound-ratio=%.1f bytes-per-segment=%.0f rss-mb=%.0f\n",
		barman.wall.Seconds()/ours.wall.Seconds(), ratio, math.Round(bpsg), float64(ours.rssKB)/1024)
	return nil
}

// launch runs a command and writes its peak RSS (KiB) to $BENCH_RSS_FILE. Linux carries a
// process's RSS high-water mark across exec, so measuring a command forked straight from this
// harness would report the harness's own peak; a small launcher process in between keeps the
// measurement the command's.
func launch(args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "bench: launch:", err)
		return 1
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		_ = os.WriteFile(os.Getenv("BENCH_RSS_FILE"), []byte(fmt.Sprint(ru.Maxrss)), 0o644)
	}
	return cmd.ProcessState.ExitCode()
}

func timeOne(c *command, requests *atomic.Int64) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	rssFile := filepath.Join(os.TempDir(), fmt.Sprintf("bench-rss-%d", os.Getpid()))
	defer func() { _ = os.Remove(rssFile) }()
	cmd := exec.Command(self, append([]string{"-launch"}, c.args...)...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "TZ=UTC", "BENCH_RSS_FILE="+rssFile)
	var stdout strings.Builder
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	before := requests.Load()
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return result{}, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	time.Sleep(300 * time.Millisecond) // let the server's request log catch up
	if err := c.check([]byte(stdout.String())); err != nil {
		return result{}, err
	}
	var rss int64
	if b, err := os.ReadFile(rssFile); err == nil {
		_, _ = fmt.Sscan(string(b), &rss)
	}
	return result{wall: wall, rssKB: rss, requests: requests.Load() - before}, nil
}

func median(rs []result) result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b result) int { return int(a.wall - b.wall) })
	return s[len(s)/2]
}

type bound struct {
	requests int
	levels   int
	time     time.Duration
}

// lowerBound counts the LIST pages and GETs a full scan must make — the server listing, the
// base/ and wals/ listings, one page per WAL directory, every backup.info and history file —
// and turns them into time: the first two levels are sequential, the rest spread over the
// connections.
func lowerBound(l layout, conc int, rtt time.Duration) bound {
	pages := func(n int) int { return (n + 999) / 1000 }
	levels := 2 // the server directory, then wals/ (base/ goes alongside)
	fan := pages(l.baseObjects) + pages(l.dirs+l.histories) - 1 + l.dirs + l.sc.Backups + l.histories
	total := levels + fan
	rounds := levels + (fan+conc-1)/conc
	return bound{requests: total, levels: levels, time: time.Duration(rounds) * rtt}
}

// bytesPerSegment runs the index benchmark: allocations of listing and building 1M segments.
func bytesPerSegment() float64 {
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			catalogtest.IndexWorkload(1_000_000)
		}
	})
	return float64(r.AllocedBytesPerOp()) / 1_000_000
}

func checkOurs(b []byte, sc scale) error {
	var r struct {
		Backups []struct{ Usable bool } `json:"backups"`
		WAL     struct{ Segments int }  `json:"wal"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	usable := 0
	for _, b := range r.Backups {
		if b.Usable {
			usable++
		}
	}
	if len(r.Backups) != sc.Backups || usable != sc.Backups || r.WAL.Segments != sc.Segments {
		return fmt.Errorf("listed %d backups (%d usable) and %d segments, want %d and %d", len(r.Backups), usable, r.WAL.Segments, sc.Backups, sc.Segments)
	}
	return nil
}

func checkPlan(b []byte, walRead *string) error {
	var p struct {
		Checks []struct{ OK bool } `json:"checks"`
		Backup struct{ ID string } `json:"backup"`
		WALEnd *struct {
			SegmentsRead int   `json:"segmentsRead"`
			BytesRead    int64 `json:"bytesRead"`
		} `json:"walEnd"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*walRead = "read no WAL records"
	if e := p.WALEnd; e != nil {
		*walRead = fmt.Sprintf("%d WAL segment(s) read for the end of the WAL, %d bytes downloaded", e.SegmentsRead, e.BytesRead)
	}
	for _, c := range p.Checks {
		if !c.OK {
			return fmt.Errorf("plan failed a check: %s", b)
		}
	}
	if p.Backup.ID == "" {
		return fmt.Errorf("plan chose no backup")
	}
	return nil
}

func checkBarman(b []byte, sc scale) error {
	var r struct {
		List []json.RawMessage `json:"backups_list"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	if len(r.List) != sc.Backups {
		return fmt.Errorf("listed %d backups, want %d", len(r.List), sc.Backups)
	}
	return nil
}

func checkAWS(b []byte, sc scale, l layout) error {
	n := strings.Count(string(b), "\n")
	if want := sc.Segments + l.histories + l.baseObjects; n != want {
		return fmt.Errorf("listed %d objects, want %d", n, want)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitListening(addr string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			return c.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("versitygw did not listen on %s", addr)
}
